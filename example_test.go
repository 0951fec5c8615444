package appkernel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// A service is a Config, New, the app's routes on Mount, and ListenAndServe
// (here: httptest instead of a port).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "appkernel-example")
	defer os.RemoveAll(dir)

	cfg := appkernel.DefaultConfig() // or appkernel.ConfigFromEnv()
	cfg.Name = "widget_service"
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(dir, "app.db"))
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	k, err := appkernel.New(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer k.Close()

	r := chi.NewRouter()
	r.Use(auth.RequireUser)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		user, _ := auth.UserFrom(r.Context())
		list, err := k.DB().FindEntities(r.Context(), "widgets", db.Query{Where: "[owner_id] = ?", Params: []any{user.ID}})
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, list)
	})
	k.Mount("/widgets", r)

	srv := httptest.NewServer(k)
	defer srv.Close()
	for _, path := range []string{"/healthz", "/widgets", "/nowhere"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		res.Body.Close()
		fmt.Println(path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Output:
	// /healthz 200 application/json
	// /widgets 401 application/json
	// /nowhere 404 application/json
}

// ConfigFromEnv reads the environment variables of the README; a bad value
// names the variable.
func ExampleConfigFromEnv() {
	os.Setenv("RATE_LIMIT_REQUESTS", "lots")
	defer os.Unsetenv("RATE_LIMIT_REQUESTS")
	_, err := appkernel.ConfigFromEnv()
	fmt.Println(err)
	// Output:
	// appkernel: invalid configuration: RATE_LIMIT_REQUESTS="lots": want a positive whole number
}
