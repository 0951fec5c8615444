package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})

	d := readError(t, srv.do(t, http.MethodGet, "/no/such/route", nil, nil), http.StatusNotFound, "not_found")
	if d.Message != "no route for GET /no/such/route" {
		t.Errorf("404 message %q", d.Message)
	}

	resp := srv.do(t, http.MethodPut, "/widgets", nil, nil)
	readError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := resp.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q, want POST", got)
	}
	resp = srv.do(t, http.MethodPost, "/widgets/1", nil, nil)
	readError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := resp.Header.Get("Allow"); got != "GET" {
		t.Errorf("Allow = %q, want GET", got)
	}
	srv.assertServing(t)
}

// TestMethodNotAllowedInMountedRouter: a feature router mounted on the
// root (as the kernel mounts auth, workspaces and apps) inherits both
// handlers, and Allow lists the sub-router's methods.
func TestMethodNotAllowedInMountedRouter(t *testing.T) {
	t.Parallel()
	mws, err := middleware.Stack(middleware.StackOptions{Logger: (&logCapture{}).logger()})
	if err != nil {
		t.Fatal(err)
	}
	root := chi.NewRouter()
	root.Use(mws...)
	root.NotFound(middleware.NotFound)
	root.MethodNotAllowed(middleware.MethodNotAllowed)
	feature := chi.NewRouter()
	feature.Post("/login", func(w http.ResponseWriter, r *http.Request) {})
	feature.Put("/login", func(w http.ResponseWriter, r *http.Request) {})
	root.Mount("/auth", feature)
	srv := httptest.NewServer(root)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := resp.Header.Get("Allow"); got != "POST, PUT" {
		t.Errorf("Allow = %q, want POST, PUT", got)
	}
	resp2, err := srv.Client().Get(srv.URL + "/auth/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	readError(t, resp2, http.StatusNotFound, "not_found")
}
