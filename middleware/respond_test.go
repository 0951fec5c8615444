package middleware_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

type createWidget struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// decode runs DecodeJSON behind BodyLimit(limit) (no BodyLimit when limit
// is 0) and returns the response.
func decode(t *testing.T, limit int64, contentType string, body io.Reader, contentLength int64) *httptest.ResponseRecorder {
	t.Helper()
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in createWidget
		if err := middleware.DecodeJSON(r, &in); err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, in)
	}))
	if limit > 0 {
		bl, err := middleware.BodyLimit(limit)
		if err != nil {
			t.Fatal(err)
		}
		h = bl(h)
	}
	h = middleware.RequestID(h)
	req := httptest.NewRequest(http.MethodPost, "/", body)
	req.ContentLength = contentLength
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	big := `{"name":"` + strings.Repeat("x", 200) + `"}`
	cases := []struct {
		name        string
		limit       int64
		contentType string
		body        string
		chunked     bool // unknown Content-Length: the limit applies while reading
		status      int
		code        string
		message     string
	}{
		{"valid", 0, "application/json", `{"name":"a","count":2}`, false, 200, "", ""},
		{"valid with charset", 0, "application/json; charset=utf-8", `{"name":"a"}`, false, 200, "", ""},
		{"valid +json type", 0, "application/merge-patch+json", `{"name":"a"}`, false, 200, "", ""},
		{"no content type", 0, "", `{"name":"a"}`, false, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"text/plain (a simple CORS request)", 0, "text/plain", `{"name":"a"}`, false, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"malformed", 0, "application/json", `{"name":`, false, 400, "invalid_json", "request body is not valid JSON"},
		{"syntax error", 0, "application/json", `{"name" "a"}`, false, 400, "invalid_json", "request body is not valid JSON"},
		{"trailing data", 0, "application/json", `{"name":"a"}{"name":"b"}`, false, 400, "invalid_json", "request body must contain a single JSON value"},
		{"trailing garbage", 0, "application/json", `{"name":"a"} xyz`, false, 400, "invalid_json", "request body must contain a single JSON value"},
		{"unknown field", 0, "application/json", `{"name":"a","admin":true}`, false, 400, "invalid_json", `unknown field "admin"`},
		{"wrong type", 0, "application/json", `{"count":"many"}`, false, 400, "invalid_json", "field count must be a number"},
		{"fraction for a whole number", 0, "application/json", `{"count":1.5}`, false, 400, "invalid_json", "field count must be a whole number within range"},
		{"array for the body", 0, "application/json", `[1,2]`, false, 400, "invalid_json", "request body must be a JSON object"},
		{"string for the body", 0, "application/json", `"widget"`, false, 400, "invalid_json", "request body must be a JSON object"},
		{"empty body", 0, "application/json", ``, false, 400, "invalid_json", "request body is empty"},
		{"wrong content type", 0, "text/plain", `{"name":"a"}`, false, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"form content type", 0, "application/x-www-form-urlencoded", `name=a`, false, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"bad content type", 0, "application/json; ===", `{}`, false, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"over limit, Content-Length", 100, "application/json", big, false, 413, "payload_too_large", "request body is larger than 100 bytes"},
		{"over limit, chunked", 100, "application/json", big, true, 413, "payload_too_large", "request body is too large"},
		{"over limit in trailing data", 20, "application/json", `{"name":"a"}` + strings.Repeat(" ", 50) + `{}`, true, 413, "payload_too_large", "request body is too large"},
		{"over default 1 MiB without BodyLimit", 0, "application/json", `{"name":"` + strings.Repeat("x", middleware.DefaultBodyLimit) + `"}`, true, 413, "payload_too_large", "request body is too large"},
	}
	for _, tc := range cases {
		var body io.Reader = strings.NewReader(tc.body)
		cl := int64(len(tc.body))
		if tc.chunked {
			body = io.MultiReader(body) // hides the length
			cl = -1
		}
		rec := decode(t, tc.limit, tc.contentType, body, cl)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.status == 200 {
			continue
		}
		want := fmt.Sprintf(`{"error":{"code":%q,"message":%q,"request_id":%q}}`+"\n", tc.code, tc.message, rec.Header().Get("X-Request-ID"))
		if rec.Body.String() != want {
			t.Errorf("%s:\n got %s want %s", tc.name, rec.Body, want)
		}
	}
}

// TestDecodeJSONTypeMessages: a value of the wrong JSON type is named in
// JSON's words (string, number, boolean, array, object) with its field's
// path, never with Go's package or type names.
func TestDecodeJSONTypeMessages(t *testing.T) {
	t.Parallel()
	type part struct {
		SKU string `json:"sku"`
	}
	type order struct {
		Part   part           `json:"part"`
		Extra  *part          `json:"extra"`
		Parts  []part         `json:"parts"`
		Tags   []string       `json:"tags"`
		Counts map[string]int `json:"counts"`
		Paid   bool           `json:"paid"`
		Price  float64        `json:"price"`
		Blob   []byte         `json:"blob"`
		Server netip.Addr     `json:"server"`
	}
	cases := []struct{ body, message string }{
		{`[1,2]`, "request body must be a JSON object"},
		{`{"part":"x"}`, "field part must be an object"},
		{`{"extra":3}`, "field extra must be an object"},
		{`{"part":{"sku":7}}`, "field part.sku must be a string"},
		{`{"parts":{}}`, "field parts must be an array"},
		{`{"tags":"x"}`, "field tags must be an array"},
		{`{"counts":[]}`, "field counts must be an object"},
		{`{"paid":"yes"}`, "field paid must be a boolean"},
		{`{"price":"9.99"}`, "field price must be a number"},
		{`{"blob":5}`, "field blob must be a string"},
		{`{"server":5}`, "field server must be a string"}, // a struct that decodes from text
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		var o order
		status, code, msg := middleware.Classify(middleware.DecodeJSON(req, &o))
		if status != http.StatusBadRequest || code != "invalid_json" || msg != tc.message {
			t.Errorf("%s: %d %s %q, want 400 invalid_json %q", tc.body, status, code, msg, tc.message)
		}
	}
	var tags []string
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`["a",2]`))
	req.Header.Set("Content-Type", "application/json")
	if _, _, msg := middleware.Classify(middleware.DecodeJSON(req, &tags)); msg != "every value in the request body must be a string" {
		t.Errorf("element of a top-level array: %q", msg)
	}
}

func TestBodyLimitRejectsNonPositive(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, -1} {
		if _, err := middleware.BodyLimit(n); err == nil {
			t.Errorf("BodyLimit(%d) accepted", n)
		}
	}
}

type conflictErr struct{}

// driverConflict is an error whose text a client must not see, as
// db.ConflictError's.
type driverConflict struct{}

func (driverConflict) Error() string         { return "Duplicate entry 'acme-alice' for key 'x_key'" }
func (driverConflict) HTTPStatus() int       { return http.StatusConflict }
func (driverConflict) ClientMessage() string { return "handle is already taken" }

func (conflictErr) Error() string   { return "name already taken" }
func (conflictErr) HTTPStatus() int { return http.StatusConflict }

func TestWriteError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"kernel error", middleware.NewError(http.StatusUnprocessableEntity, "validation_error", "name is required"), 422, "validation_error", "name is required"},
		{"wrapped kernel error", fmt.Errorf("saving: %w", middleware.Errorf(http.StatusForbidden, "forbidden", "not your %s", "widget")), 403, "forbidden", "not your widget"},
		{"sentinel of another package", fmt.Errorf("get widget: %w", notFoundErr{}), 404, "not_found", "get widget: widget not found"},
		{"status without code", conflictErr{}, 409, "conflict", "name already taken"},
		{"client message", fmt.Errorf("save: %w", driverConflict{}), 409, "conflict", "handle is already taken"},
		{"client message under a kernel error", &middleware.Error{Status: 409, Code: "taken", Message: "pick another handle", Err: driverConflict{}}, 409, "taken", "pick another handle"},
		{"internal error", fmt.Errorf("query: %w", errInternal), 500, "internal_error", "internal server error"},
		{"rate limited", middleware.NewError(http.StatusTooManyRequests, "rate_limited", "slow down"), 429, "rate_limited", "slow down"},
		{"unauthorized", middleware.NewError(http.StatusUnauthorized, "unauthorized", "token expired"), 401, "unauthorized", "token expired"},
	}
	for _, tc := range cases {
		h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			middleware.WriteError(w, r, tc.err)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		resp := rec.Result()
		d := readError(t, resp, tc.status, tc.code)
		if d.Message != tc.message {
			t.Errorf("%s: message %q, want %q", tc.name, d.Message, tc.message)
		}
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	middleware.WriteJSON(rec, http.StatusOK, map[string]any{"f": func() {}})
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal_error") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestWriteJSONUnencodableUnderStack: under the stack, a value that cannot
// be encoded becomes the kernel's error body with the request ID, and the
// encoding error reaches the access line, logged at ERROR like any fault.
func TestWriteJSONUnencodableUnderStack(t *testing.T) {
	t.Parallel()
	logs, r := stackRouter(t)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"updates": make(chan int)})
	})
	rec := httptest.NewRecorder()
	middleware.Root(r).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	d := readError(t, rec.Result(), http.StatusInternalServerError, "internal_error")
	if d.Message != "response could not be encoded" {
		t.Errorf("message %q", d.Message)
	}
	line := logs.accessLine(t, d.RequestID)
	if e, _ := line["error"].(string); line["level"] != "ERROR" || line["status"] != float64(500) || !strings.Contains(e, "unsupported type: chan int") {
		t.Fatalf("access line %v lacks the encoding error", line)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	status, code, msg := middleware.Classify(errors.New("secret"))
	if status != 500 || code != "internal_error" || strings.Contains(msg, "secret") {
		t.Fatalf("Classify leaked or misclassified: %d %s %s", status, code, msg)
	}
}

// busyErr is a 5xx sentinel the way other kernel packages write one
// (db.ErrBusy): its own text is meant for the client.
type busyErr struct{}

func (busyErr) Error() string     { return "database busy" }
func (busyErr) HTTPStatus() int   { return http.StatusServiceUnavailable }
func (busyErr) ErrorCode() string { return "busy" }

// TestWriteErrorServerErrorHidesWrappingText: a 5xx error wrapped with
// context (table, id, the driver's own message, as db does) shows the client
// only the message of the error that carries the status; the access line
// keeps the whole text, and Debug shows it to the client too.
func TestWriteErrorServerErrorHidesWrappingText(t *testing.T) {
	t.Parallel()
	driver := errors.New("ERROR: deadlock detected (SQLSTATE 40P01)")
	wrapped := fmt.Errorf("db: save users %q: %w: %w", "u-123", busyErr{}, driver)
	withCause := fmt.Errorf("save: %w", &middleware.Error{Status: http.StatusBadGateway, Code: "upstream", Message: "payment provider failed", Err: driver})
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"sentinel wrapped with driver text", wrapped, 503, "busy", "database busy"},
		{"kernel error with a cause", withCause, 502, "upstream", "payment provider failed"},
	} {
		for _, debug := range []bool{false, true} {
			logs := &logCapture{}
			mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger(), Debug: debug})
			if err != nil {
				t.Fatal(err)
			}
			r := chi.NewRouter()
			r.Use(mws...)
			r.Get("/", func(w http.ResponseWriter, r *http.Request) { middleware.WriteError(w, r, tc.err) })
			rec := httptest.NewRecorder()
			middleware.Root(r).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			d := readError(t, rec.Result(), tc.status, tc.code)
			want := tc.message
			if debug {
				want = tc.err.Error()
			}
			if d.Message != want {
				t.Errorf("%s, debug %v: message %q, want %q", tc.name, debug, d.Message, want)
			}
			wantLevel := "ERROR"
			if tc.status == http.StatusServiceUnavailable {
				wantLevel = "WARN" // an expected refusal, see Logger
			}
			if line := logs.accessLine(t, d.RequestID); line["error"] != tc.err.Error() || line["level"] != wantLevel {
				t.Errorf("%s, debug %v: access line %v lacks the whole error text", tc.name, debug, line)
			}
		}
	}
	if _, _, msg := middleware.Classify(wrapped); msg != "database busy" {
		t.Errorf("Classify message %q, want %q", msg, "database busy")
	}
}
