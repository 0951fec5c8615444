package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"appkernel/middleware"
)

func corsRequest(t *testing.T, opts middleware.CORSOptions, method, origin string, preflight bool) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	mw, err := middleware.CORS(opts)
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	h := middleware.RequestID(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		middleware.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})))
	req := httptest.NewRequest(method, "/widgets", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if preflight {
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, authorization")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, reached
}

func TestCORSDefaultAnyOriginWithoutCredentials(t *testing.T) {
	t.Parallel()
	rec, _ := corsRequest(t, middleware.CORSOptions{}, http.MethodGet, "https://anywhere.example", false)
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" || rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("headers %v", rec.Header())
	}
	if !strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("X-Request-ID not exposed: %q", rec.Header().Get("Access-Control-Expose-Headers"))
	}
	rec, reached := corsRequest(t, middleware.CORSOptions{}, http.MethodOptions, "https://anywhere.example", true)
	if reached || rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
		rec.Header().Get("Access-Control-Allow-Methods") != "POST" || rec.Header().Get("Access-Control-Max-Age") != "300" {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
}

func TestCORSExplicitOriginsWithCredentials(t *testing.T) {
	t.Parallel()
	opts := middleware.CORSOptions{AllowedOrigins: []string{"https://app.example", "https://*.tenant.example"}, AllowCredentials: true}
	for _, origin := range []string{"https://app.example", "https://APP.example", "https://acme.tenant.example"} {
		rec, _ := corsRequest(t, opts, http.MethodGet, origin, false)
		if rec.Header().Get("Access-Control-Allow-Origin") != origin || rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: headers %v", origin, rec.Header())
		}
		rec, _ = corsRequest(t, opts, http.MethodOptions, origin, true)
		if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("%s preflight: %d %v", origin, rec.Code, rec.Header())
		}
	}
	// Not allowed: served (same-origin tools, curl), but without CORS headers.
	rec, reached := corsRequest(t, opts, http.MethodGet, "https://evil.example", false)
	if !reached || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("disallowed origin got CORS headers: %v", rec.Header())
	}
}

// TestCORSPreflightFromDisallowedOrigin is the attack: an unknown site asks
// whether it may send credentialed requests. It gets a JSON 403 and no
// Access-Control-Allow-* header, and the handler never runs.
func TestCORSPreflightFromDisallowedOrigin(t *testing.T) {
	t.Parallel()
	opts := middleware.CORSOptions{AllowedOrigins: []string{"https://app.example", "https://*.tenant.example"}, AllowCredentials: true}
	for _, origin := range []string{"https://evil.example", "https://app.example.evil.example", "http://app.example", "https://tenant.example.evil", "null"} {
		rec, reached := corsRequest(t, opts, http.MethodOptions, origin, true)
		if reached {
			t.Errorf("%s: preflight reached the handler", origin)
		}
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"code":"cors_origin_not_allowed"`) ||
			!strings.Contains(rec.Body.String(), `"request_id"`) {
			t.Errorf("%s: %d %s", origin, rec.Code, rec.Body)
		}
		for k := range rec.Header() {
			if strings.HasPrefix(k, "Access-Control-Allow-") {
				t.Errorf("%s: disallowed preflight got %s", origin, k)
			}
		}
	}
}

func TestCORSOptionErrors(t *testing.T) {
	t.Parallel()
	bad := map[string]middleware.CORSOptions{
		"* with credentials":         {AllowCredentials: true},
		"explicit * with creds":      {AllowedOrigins: []string{"*"}, AllowCredentials: true},
		"* mixed with origins":       {AllowedOrigins: []string{"*", "https://a.example"}},
		"path in origin":             {AllowedOrigins: []string{"https://a.example/app"}},
		"no scheme":                  {AllowedOrigins: []string{"a.example"}},
		"two wildcards":              {AllowedOrigins: []string{"https://*.*.example"}},
		"negative max age":           {MaxAge: -1},
		"ftp scheme":                 {AllowedOrigins: []string{"ftp://a.example"}},
		"credentials with wildcards": {AllowedOrigins: []string{"*"}, AllowCredentials: true},
	}
	for name, opts := range bad {
		if _, err := middleware.CORS(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A request without Origin is not a CORS request: CORS answers it as
// go-chi/cors would (only Vary: Origin, for caches, and the handler runs),
// whatever the method, and keeps a Vary the response already had.
func TestCORSWithoutOriginOnlyVaries(t *testing.T) {
	t.Parallel()
	for _, opts := range []middleware.CORSOptions{{}, {AllowedOrigins: []string{"https://app.example"}, AllowCredentials: true}} {
		mw, err := middleware.CORS(opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodOptions} {
			for _, preflightHeader := range []bool{false, true} {
				for _, priorVary := range []bool{false, true} {
					reached := false
					h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						reached = true
						w.Header().Add("Vary", "Accept")
						w.WriteHeader(http.StatusNoContent)
					}))
					req := httptest.NewRequest(method, "/widgets", nil)
					if preflightHeader {
						req.Header.Set("Access-Control-Request-Method", "POST")
					}
					rec := httptest.NewRecorder()
					want := []string{"Origin", "Accept"}
					if priorVary {
						rec.Header().Set("Vary", "Accept-Encoding")
						want = []string{"Accept-Encoding", "Origin", "Accept"}
					}
					h.ServeHTTP(rec, req)
					if !reached || rec.Code != http.StatusNoContent {
						t.Errorf("%s preflight=%v: handler reached %v, status %d", method, preflightHeader, reached, rec.Code)
					}
					if got := rec.Header().Values("Vary"); strings.Join(got, ",") != strings.Join(want, ",") {
						t.Errorf("%s preflight=%v prior=%v: Vary %q, want %q", method, preflightHeader, priorVary, got, want)
					}
					for k := range rec.Header() {
						if strings.HasPrefix(k, "Access-Control-") {
							t.Errorf("%s: CORS header %s on a request without Origin", method, k)
						}
					}
				}
			}
		}
	}
}
