package middleware_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"appkernel/middleware"
)

func securityHeaders(t *testing.T, opts middleware.SecurityHeadersOptions, trusted []string, prep func(*http.Request)) http.Header {
	t.Helper()
	sec, err := middleware.SecurityHeaders(opts)
	if err != nil {
		t.Fatal(err)
	}
	rip, err := middleware.RealIP(trusted)
	if err != nil {
		t.Fatal(err)
	}
	h := rip(sec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.2:3000"
	if prep != nil {
		prep(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Header()
}

func TestSecurityHeadersDefaults(t *testing.T) {
	t.Parallel()
	h := securityHeaders(t, middleware.SecurityHeadersOptions{}, nil, nil)
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if v := h.Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS over plain HTTP: %q", v)
	}
}

func TestSecurityHeadersHSTS(t *testing.T) {
	t.Parallel()
	const hsts = "max-age=63072000"
	cases := []struct {
		name    string
		trusted []string
		prep    func(*http.Request)
		want    string
	}{
		{"direct TLS", nil, func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, hsts},
		{"X-Forwarded-Proto from trusted proxy", []string{"10.0.0.0/8"}, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "HTTPS") }, hsts},
		{"first of several protos", []string{"10.0.0.0/8"}, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https, http") }, hsts},
		{"X-Forwarded-Proto from untrusted peer", nil, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, ""},
		{"trusted proxy says http", []string{"10.0.0.0/8"}, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "http") }, ""},
	}
	for _, tc := range cases {
		if got := securityHeaders(t, middleware.SecurityHeadersOptions{}, tc.trusted, tc.prep).Get("Strict-Transport-Security"); got != tc.want {
			t.Errorf("%s: HSTS %q, want %q", tc.name, got, tc.want)
		}
	}
	tlsReq := func(r *http.Request) { r.TLS = &tls.ConnectionState{} }
	got := securityHeaders(t, middleware.SecurityHeadersOptions{HSTSMaxAge: time.Hour, HSTSIncludeSubdomains: true}, nil, tlsReq).Get("Strict-Transport-Security")
	if got != "max-age=3600; includeSubDomains" {
		t.Errorf("custom HSTS %q", got)
	}
	if got := securityHeaders(t, middleware.SecurityHeadersOptions{HSTSMaxAge: -1}, nil, tlsReq).Get("Strict-Transport-Security"); got != "" {
		t.Errorf("disabled HSTS sent %q", got)
	}
}

func TestSecurityHeadersOverTLSServer(t *testing.T) {
	t.Parallel()
	sec, _ := middleware.SecurityHeaders(middleware.SecurityHeadersOptions{})
	srv := httptest.NewTLSServer(sec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
}

func TestSecurityHeadersOptions(t *testing.T) {
	t.Parallel()
	h := securityHeaders(t, middleware.SecurityHeadersOptions{
		ReferrerPolicy: "strict-origin-when-cross-origin", FrameOptions: "SAMEORIGIN", DisableCSP: true,
	}, nil, nil)
	if h.Get("Referrer-Policy") != "strict-origin-when-cross-origin" || h.Get("X-Frame-Options") != "SAMEORIGIN" || h.Get("Content-Security-Policy") != "" {
		t.Errorf("options not applied: %v", h)
	}
	for name, bad := range map[string]middleware.SecurityHeadersOptions{
		"ReferrerPolicy":        {ReferrerPolicy: "everyone"},
		"FrameOptions":          {FrameOptions: "ALLOW-FROM x"},
		"ContentSecurityPolicy": {ContentSecurityPolicy: "default-src 'none'\r\nSet-Cookie: x"},
	} {
		if _, err := middleware.SecurityHeaders(bad); err == nil {
			t.Errorf("bad %s accepted", name)
		}
	}
}

// TestSecurityHeadersHandlerOverride: an HTML handler replaces the CSP, and
// the shared default is not changed for the next request.
func TestSecurityHeadersHandlerOverride(t *testing.T) {
	t.Parallel()
	sec, _ := middleware.SecurityHeaders(middleware.SecurityHeadersOptions{})
	h := sec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/html" {
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			w.Header().Add("X-Frame-Options", "extra")
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/html", nil))
	if rec.Header().Get("Content-Security-Policy") != "default-src 'self'" {
		t.Fatal("handler could not override CSP")
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/json", nil))
	if got := rec.Header().Values("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" {
		t.Fatalf("shared header value was modified by an earlier handler: %q", got)
	}
}
