package appkernel_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"appkernel"
	"appkernel/kerneltest"
)

// Mount panics, naming the pattern, on the mistakes its doc lists; an app
// with auth off may have its own /auth.
func TestMountPanicsOnProgramMistakes(t *testing.T) {
	t.Parallel()
	tk := kerneltest.New(t, nil)
	tk.Mount("/widgets", http.NotFoundHandler())
	for pattern, want := range map[string]string{
		"widgets":     "must begin with '/'",
		"/widgets":    "existing path, '/widgets'",
		"/auth":       "existing path, '/auth'",
		"/workspaces": "existing path, '/workspaces'",
		"/healthz":    `Mount("/healthz"): /healthz is the kernel's own route`,
		"/readyz/x":   `Mount("/readyz/x"): /readyz is the kernel's own route`,
	} {
		got := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			tk.Mount(pattern, http.NotFoundHandler())
			return "no panic"
		}()
		if !strings.Contains(got, want) {
			t.Errorf("Mount(%q): %s, want a panic saying %q", pattern, got, want)
		}
	}

	noAuth := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) { c.DisableAuth = true }})
	noAuth.Mount("/auth", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	noAuth.Client().Get(t, "/auth/anything").Expect(t, http.StatusTeapot)
}
