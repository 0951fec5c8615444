package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A path that is not UTF-8 text (a NUL, a stray byte) is 400 invalid_path
// in the error shape behind the stack, and is logged like any request;
// UTF-8 paths pass.
func TestStackRefusesPathsThatAreNotText(t *testing.T) {
	logs, r := stackRouter(t)
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for path, want := range map[string]int{
		"/items/%FF":         400,
		"/items/%00":         400,
		"/items/a%00b":       400,
		"/items/%C3":         400,
		"/items/caf%C3%A9":   204,
		"/items/%E2%9C%93ok": 204,
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
			continue
		}
		if want == 400 {
			var body struct {
				Error struct {
					Code      string `json:"code"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "invalid_path" || body.Error.RequestID == "" {
				t.Errorf("%s: body %s", path, w.Body)
			}
		}
	}
	if n := len(logs.lines(t)); n != 6 {
		t.Errorf("%d access lines, want 6", n)
	}
}
