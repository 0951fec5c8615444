package middleware_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"appkernel/middleware"
)

// TestStackBadInput sends every bad input of the issue through the full
// stack on a real server: each gets the JSON error shape with the request
// ID, the server keeps serving, and none is logged at ERROR.
func TestStackBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"malformed JSON", "POST", "/widgets", `{"name": "sprocket"`, map[string]string{"Content-Type": "application/json"}, 400, "invalid_json"},
		{"trailing data", "POST", "/widgets", `{"name":"a"} {"name":"b"}`, map[string]string{"Content-Type": "application/json"}, 400, "invalid_json"},
		{"unknown field", "POST", "/widgets", `{"name":"a","owner":"root"}`, map[string]string{"Content-Type": "application/json"}, 400, "invalid_json"},
		{"body over limit", "POST", "/widgets", `{"name":"` + strings.Repeat("x", 2048) + `"}`, map[string]string{"Content-Type": "application/json"}, 413, "payload_too_large"},
		{"wrong content type", "POST", "/widgets", `{"name":"a"}`, map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
		{"unknown route", "GET", "/nope", "", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/widgets/1", "", nil, 405, "method_not_allowed"},
		{"X-Request-ID of 10 kB", "GET", "/widgets/missing", "", map[string]string{"X-Request-ID": strings.Repeat("a", 10<<10)}, 404, "not_found"},
		{"X-Forwarded-For from untrusted peer", "GET", "/widgets/missing", "", map[string]string{"X-Forwarded-For": "10.1.2.3"}, 404, "not_found"},
		{"CORS preflight from disallowed origin", "OPTIONS", "/widgets", "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, 403, "cors_origin_not_allowed"},
	}
	srv := newTestServer(t, middleware.StackOptions{
		BodyLimit:      1024,
		TrustedProxies: []string{"10.0.0.0/8"},
		CORS:           middleware.CORSOptions{AllowedOrigins: []string{"https://app.example"}, AllowCredentials: true},
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body *bytes.Reader
			if tc.body != "" {
				body = bytes.NewReader([]byte(tc.body))
			}
			var resp *http.Response
			if body != nil {
				resp = srv.do(t, tc.method, tc.path, body, tc.header)
			} else {
				resp = srv.do(t, tc.method, tc.path, nil, tc.header)
			}
			d := readError(t, resp, tc.status, tc.code)
			if !uuidRE.MatchString(d.RequestID) {
				t.Errorf("request_id %q is not a fresh UUID", d.RequestID)
			}
			line := srv.logs.accessLine(t, d.RequestID)
			if line["level"] != "INFO" || line["status"] != float64(tc.status) {
				t.Errorf("access line %v, want INFO with status %d", line, tc.status)
			}
			srv.assertServing(t)
		})
	}
	if errs := srv.logs.atLevel(t, "ERROR"); len(errs) != 0 {
		t.Fatalf("bad input was logged at ERROR: %v", errs)
	}
}

// TestStackRealFaults: a panic and an internal error are the only things at
// ERROR, one line each, with the request ID; the client sees neither the
// panic text nor the internal error.
func TestStackRealFaults(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	for _, path := range []string{"/panic", "/fail"} {
		resp := srv.do(t, http.MethodGet, path, nil, nil)
		d := readError(t, resp, http.StatusInternalServerError, "internal_error")
		if d.Message != "internal server error" {
			t.Errorf("%s: client saw %q", path, d.Message)
		}
		line := srv.logs.accessLine(t, d.RequestID)
		if line["level"] != "ERROR" {
			t.Errorf("%s: access line level %v, want ERROR", path, line["level"])
		}
		srv.assertServing(t)
	}
	if errs := srv.logs.atLevel(t, "ERROR"); len(errs) != 2 {
		t.Fatalf("want exactly 2 ERROR lines (panic, internal error), got %d: %v", len(errs), errs)
	}
}

func TestStackHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	for _, path := range []string{"/widgets/1", "/nope", "/panic"} {
		resp := srv.do(t, http.MethodGet, path, nil, nil)
		for _, h := range []string{"X-Request-Id", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s: missing %s", path, h)
			}
		}
	}
}

func TestStackOptionErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]middleware.StackOptions{
		"TrustedProxies":  {TrustedProxies: []string{"10.0.0.0/33"}},
		"CORS":            {CORS: middleware.CORSOptions{AllowCredentials: true}},
		"SecurityHeaders": {SecurityHeaders: middleware.SecurityHeadersOptions{FrameOptions: "ALLOW"}},
		"BodyLimit":       {BodyLimit: -1},
	}
	for field, opts := range cases {
		_, err := middleware.Stack(opts)
		if err == nil || !strings.Contains(err.Error(), "StackOptions."+field) {
			t.Errorf("%s: err = %v, want an error naming StackOptions.%s", field, err, field)
		}
	}
}

func TestStackAfterRunsAfterBodyLimit(t *testing.T) {
	t.Parallel()
	var sawRequestID, sawLimit bool
	after := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, sawRequestID = middleware.RequestIDFrom(r.Context())
			sawLimit = w.Header().Get("X-Frame-Options") == "DENY"
			middleware.SetUserID(r.Context(), "user-1")
			next.ServeHTTP(w, r)
		})
	}
	srv := newTestServer(t, middleware.StackOptions{After: []func(http.Handler) http.Handler{nil, after}})
	resp := srv.do(t, http.MethodGet, "/widgets/1", nil, nil)
	if !sawRequestID || !sawLimit {
		t.Fatalf("After middleware ran before the stack: request ID %v, security headers %v", sawRequestID, sawLimit)
	}
	line := srv.logs.accessLine(t, resp.Header.Get("X-Request-ID"))
	if line["user_id"] != "user-1" {
		t.Fatalf("user_id from SetUserID missing in access line: %v", line)
	}
}
