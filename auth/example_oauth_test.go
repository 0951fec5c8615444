package auth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// OAuth login beside the auth routes: a sign-in starts with a redirect to
// the provider, carrying a one-time state (also in a cookie of this
// browser) and a PKCE challenge; the provider sends the browser back to
// PublicURL + /auth/oauth/github/callback.
func ExampleNewOAuth() {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		panic(err)
	}
	defer store.Close()
	a, err := auth.New(ctx, auth.Config{
		Store:  store,
		Secret: []byte("example-secret-of-at-least-32-bytes!"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	o, err := auth.NewOAuth(ctx, a, auth.OAuthConfig{
		Providers:       map[string]auth.OAuthProvider{"github": {ClientID: "my-client-id", ClientSecret: "my-secret"}},
		PublicURL:       "https://api.example.com",
		RedirectOrigins: []string{"https://app.example.com"},
	})
	if err != nil {
		panic(err)
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.Authenticate)
	r.Mount("/auth", a.Routes())
	r.Mount("/auth/oauth", o.Routes())
	srv := httptest.NewServer(r)
	defer srv.Close()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(srv.URL + "/auth/oauth/github?redirect_uri=https://app.example.com/dashboard")
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	q := loc.Query()
	fmt.Println(res.StatusCode, loc.Host+loc.Path)
	fmt.Println(q.Get("redirect_uri"))
	fmt.Println(q.Get("code_challenge_method"), q.Get("state") == res.Cookies()[0].Value)
	// Output:
	// 302 github.com/login/oauth/authorize
	// https://api.example.com/auth/oauth/github/callback
	// S256 true
}
