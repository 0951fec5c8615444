package appkernel_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"appkernel/kerneltest"
)

// TestReadyzKeepsDriverErrorsInTheLog: /readyz answers anyone, so its 503
// names the failing check and its state but not the driver's error, which
// goes to the kernel's log at WARN with the check's name and request_id.
func TestReadyzKeepsDriverErrorsInTheLog(t *testing.T) {
	t.Parallel()
	tk := kerneltest.New(t, nil)
	if err := tk.DB().Close(); err != nil {
		t.Fatal(err)
	}
	res := tk.Client().Get(t, "/readyz").Expect(t, http.StatusServiceUnavailable)
	if code := res.ErrorCode(t); code != "not_ready" {
		t.Fatalf("code %q", code)
	}
	var body struct {
		Error struct {
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		}
		Checks map[string]map[string]any
	}
	res.JSON(t, &body)
	if body.Error.Message != "not ready: database failing" || body.Checks["database"]["status"] != "error" {
		t.Fatalf("body %s", res.Body)
	}
	if strings.Contains(string(res.Body), "closed") || body.Checks["database"]["error"] != nil {
		t.Fatalf("503 body shows the driver's error: %s", res.Body)
	}

	for _, l := range strings.Split(tk.Logs.String(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil || line["check"] != "database" {
			continue
		}
		if line["level"] != "WARN" || !strings.Contains(line["error"].(string), "closed") || line["request_id"] != body.Error.RequestID {
			t.Fatalf("readiness line %s", l)
		}
		return
	}
	t.Fatalf("no log line for the failing database check in:\n%s", tk.Logs)
}
