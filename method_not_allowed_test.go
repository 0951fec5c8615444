package appkernel_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/kerneltest"
)

// TestMethodNotAllowedThroughTheKernel: every 405 carries an Allow header
// (RFC 9110) listing the methods the path has, at a mounted router's own
// path as well as below it, for an app's routers and the kernel's own.
func TestMethodNotAllowedThroughTheKernel(t *testing.T) {
	t.Parallel()
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	tk := kerneltest.New(t, &kerneltest.Options{Mount: func(k *appkernel.Kernel) {
		widgets := chi.NewRouter()
		widgets.Get("/", ok)
		widgets.Post("/", ok)
		widgets.Get("/{id}", ok)
		k.Mount("/widgets", widgets)
	}})
	alice := tk.User(t, "alice@example.com")

	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPatch, "/widgets", "GET, POST"},
		{http.MethodPatch, "/widgets/", "GET, POST"},
		{http.MethodPatch, "/widgets/abc", "GET"},
		{http.MethodPatch, "/workspaces", "GET, POST"},
		{http.MethodPatch, "/workspaces/" + alice.WorkspaceID, "GET"},
		{http.MethodGet, "/auth/login", "POST"},
	} {
		res := alice.Do(t, c.method, c.path, nil).Expect(t, http.StatusMethodNotAllowed)
		if code := res.ErrorCode(t); code != "method_not_allowed" {
			t.Errorf("%s %s: code %q", c.method, c.path, code)
		}
		if got := res.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
