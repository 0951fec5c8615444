package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"appkernel"
	"appkernel/apikeys"
	"appkernel/auth"
	"appkernel/middleware"
)

// BenchmarkKernelAPIKey is one request through the whole kernel stack
// (without Redis, so without the limiter) to a route that answers whether
// a user is in the context: anonymous, with an access token, and with an
// API key whose lookup is cached. The API-key figure minus the anonymous one is
// what key authentication adds (target: at most 10 µs); the access-token
// figure is beside it.
//
//	go test -run '^$' -bench KernelAPIKey -count 6 . | benchstat -col /mode -
func BenchmarkKernelAPIKey(b *testing.B) {
	ctx := context.Background()
	cfg := appkernel.DefaultConfig()
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(b.TempDir(), "app.db"))
	cfg.DisableDevAutostart = true
	cfg.JWTSecret = "bench-secret-bench-secret-0123456789abcdef"
	cfg.Logger = slog.New(middleware.NewJSONHandler(io.Discard, nil))
	k, err := appkernel.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	k.Router().Get("/bench", func(w http.ResponseWriter, r *http.Request) {
		_, ok := auth.UserFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"user": ok})
	})
	u, err := k.Auth().CreateUser(ctx, auth.CreateUserInput{Email: "bench@example.com", Password: "bench-password-1"})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := k.Auth().Login(ctx, auth.LoginInput{Email: "bench@example.com", Password: "bench-password-1", ClientIP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	key, err := k.APIKeys().Create(ctx, apikeys.Params{UserID: u.ID, Name: "bench", Scopes: []string{"widgets:read"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ mode, credential string }{
		{"anonymous", ""},
		{"access_token", tok.AccessToken},
		{"api_key", key.Secret},
	} {
		b.Run("mode="+tc.mode, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/bench", nil)
			req.RemoteAddr = "192.0.2.1:4000"
			if tc.credential != "" {
				req.Header.Set("Authorization", "Bearer "+tc.credential)
			}
			w := httptest.NewRecorder()
			k.ServeHTTP(w, req) // warm the caches
			if w.Code != http.StatusOK || (tc.credential != "") != (w.Body.String() == "{\"user\":true}\n") {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				k.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
