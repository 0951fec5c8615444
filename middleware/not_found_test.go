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

// TestMethodNotAllowedAtMountRoot: at a mount's own path (/widgets and
// /widgets/ for Mount("/widgets", sub), and the path of every Route) chi
// matches the stub Mount registers for every method; Allow still lists
// only what the mounted router serves there.
func TestMethodNotAllowedAtMountRoot(t *testing.T) {
	t.Parallel()
	_, root := stackRouter(t)
	root.NotFound(middleware.NotFound)
	root.MethodNotAllowed(middleware.MethodNotAllowed)
	ok := func(w http.ResponseWriter, r *http.Request) {}
	widgets := chi.NewRouter()
	widgets.Get("/", ok)
	widgets.Post("/", ok)
	widgets.Get("/{id}", ok)
	widgets.Route("/{id}/parts", func(r chi.Router) {
		r.Delete("/", ok)
		r.Route("/{part}", func(r chi.Router) { r.Put("/", ok) })
	})
	root.Mount("/widgets", widgets)
	api := chi.NewRouter()
	api.Mount("/widgets", widgets)
	root.Mount("/api", api)
	things := chi.NewRouter()
	things.Post("/", ok)
	root.Mount("/things", things)
	root.Get("/things", ok) // a route of the root's own beside the mount's stub
	srv := httptest.NewServer(middleware.Root(root))
	defer srv.Close()

	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPatch, "/widgets", "GET, POST"},
		{http.MethodPatch, "/widgets/", "GET, POST"},
		{http.MethodPatch, "/widgets/abc", "GET"},
		{http.MethodGet, "/widgets/abc/parts", "DELETE"},
		{http.MethodGet, "/widgets/abc/parts/", "DELETE"},
		{http.MethodGet, "/widgets/abc/parts/p1", "PUT"},
		{http.MethodPatch, "/api/widgets", "GET, POST"},
		{http.MethodGet, "/api/widgets/abc/parts", "DELETE"},
		{http.MethodPatch, "/things", "GET, POST"},
	} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
		resp.Body.Close()
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
