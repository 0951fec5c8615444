package middleware

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/go-chi/cors"
)

// The kernel answers actual (not preflight) cross-origin requests itself,
// without go-chi/cors's per-request work; every header it sets must be
// what go-chi/cors sets for the same options and request.
func TestActualCORSMatchesGoChiCORS(t *testing.T) {
	optionSets := map[string]CORSOptions{
		"default":                   {},
		"explicit with credentials": {AllowedOrigins: []string{"https://app.example.com", "https://*.example.org"}, AllowCredentials: true},
		"explicit without":          {AllowedOrigins: []string{"https://APP.example.com/"}},
		"lower-case methods":        {AllowedMethods: []string{"get", "Post"}, ExposedHeaders: []string{"x-trace-id", "etag"}},
	}
	origins := [][]string{
		nil, {""}, {"null"},
		{"https://app.example.com"}, {"https://APP.EXAMPLE.COM"}, {"https://evil.example.com"},
		{"https://a.example.org"}, {"https://.example.org"},
		{"https://app.example.com", "https://evil.example.com"}, {"https://evil.example.com", "https://app.example.com"},
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "PROPFIND"}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for name, o := range optionSets {
		ours, err := CORS(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		opts := o.withDefaults()
		m, err := newOriginMatcher(opts.AllowedOrigins)
		if err != nil {
			t.Fatal(err)
		}
		theirs := cors.New(chiCORSOptions(opts, m)).Handler(next)
		for _, origin := range origins {
			for _, method := range methods {
				for _, vary := range [][]string{nil, {"Accept-Encoding"}} {
					serve := func(h http.Handler) (http.Header, int) {
						r := httptest.NewRequest(method, "/x", nil)
						if origin != nil {
							r.Header["Origin"] = origin
						}
						w := httptest.NewRecorder()
						if vary != nil {
							w.Header()["Vary"] = append([]string(nil), vary...)
						}
						h.ServeHTTP(w, r)
						return w.Header(), w.Code
					}
					gotH, gotCode := serve(ours(next))
					wantH, wantCode := serve(theirs)
					if !reflect.DeepEqual(gotH, wantH) || gotCode != wantCode {
						t.Errorf("%s, %s with Origin %q, Vary %v:\n got %d %v\nwant %d %v", name, method, origin, vary, gotCode, gotH, wantCode, wantH)
					}
				}
			}
		}
	}
	// The shared values stay intact when a handler appends to them.
	h, _ := CORS(CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true})
	for i := range 2 {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Origin", "https://app.example.com")
		w := httptest.NewRecorder()
		h(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Access-Control-Expose-Headers", fmt.Sprint("X-Extra-", i))
			w.Header().Add("Access-Control-Allow-Credentials", "again")
			w.Header().Add("Vary", "Cookie")
		})).ServeHTTP(w, r)
		if got := w.Header().Values("Access-Control-Allow-Credentials"); len(got) != 2 || got[0] != "true" {
			t.Fatalf("request %d: Allow-Credentials %v", i, got)
		}
		if got := w.Header().Values("Vary"); len(got) != 2 || got[0] != "Origin" {
			t.Fatalf("request %d: Vary %v", i, got)
		}
	}
}
