package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"appkernel/middleware"
)

// A probe's response carries a request ID and the security headers; HSTS
// follows X-Forwarded-Proto only from a trusted proxy, so a client cannot
// claim https for itself.
func TestProbeHeaders(t *testing.T) {
	probe, err := middleware.Probe([]string{"10.0.0.0/8"}, middleware.SecurityHeadersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := probe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := middleware.RequestIDFrom(r.Context()); ok {
			t.Error("Probe put a request state in the context")
		}
	}))
	for _, tc := range []struct {
		peer, id, wantID string
		hsts             bool
	}{
		{"192.0.2.7:4000", "", "", false},
		{"192.0.2.7:4000", "lb-check-1", "lb-check-1", false},
		{"192.0.2.7:4000", "bad id", "", false},
		{"10.1.2.3:4000", "", "", true},
	} {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.RemoteAddr = tc.peer
		req.Header.Set("X-Forwarded-Proto", "https")
		if tc.id != "" {
			req.Header.Set("X-Request-ID", tc.id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-ID")
		if tc.wantID != "" && got != tc.wantID || tc.wantID == "" && len(got) != 36 {
			t.Errorf("peer %s, X-Request-ID %q: answered %q", tc.peer, tc.id, got)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" ||
			rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Referrer-Policy") == "" {
			t.Errorf("peer %s: security headers missing: %v", tc.peer, rec.Header())
		}
		if hsts := rec.Header().Get("Strict-Transport-Security") != ""; hsts != tc.hsts {
			t.Errorf("peer %s saying https: HSTS %v, want %v", tc.peer, hsts, tc.hsts)
		}
	}
	if _, err := middleware.Probe([]string{"nonsense"}, middleware.SecurityHeadersOptions{}); err == nil {
		t.Error("Probe accepted a trusted proxy that is no address")
	}
}
