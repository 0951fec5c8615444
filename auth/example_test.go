package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// The kernel's wiring in miniature: Authenticate in the stack, the auth
// routes at /auth, and an app route that needs a user.
func Example() {
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
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.Authenticate)
	r.Mount("/auth", a.Routes())
	r.With(auth.RequireUser).Get("/hello", func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserFrom(r.Context())
		fmt.Fprintf(w, "hello %s (%s)", u.Email, u.Role)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	// The first user of the database registers and becomes admin.
	res, _ := http.Post(srv.URL+"/auth/register", "application/json",
		strings.NewReader(`{"email":"Ada@Example.com","password":"analytical-engine"}`))
	var tokens auth.Tokens
	_ = json.NewDecoder(res.Body).Decode(&tokens)
	res.Body.Close()
	fmt.Println(res.StatusCode, tokens.User.Email, tokens.User.Role, tokens.TokenType)

	// Self-signup is off: a second stranger is refused.
	res, _ = http.Post(srv.URL+"/auth/register", "application/json",
		strings.NewReader(`{"email":"eve@example.com","password":"let-me-in-please"}`))
	res.Body.Close()
	fmt.Println(res.StatusCode)

	req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
	res, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output:
	// 201 ada@example.com admin bearer
	// 403
	// 200 hello ada@example.com (admin)
}

// A seed script creates users and promotes one without HTTP.
func ExampleService_CreateUser() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	a, err := auth.New(ctx, auth.Config{
		Store:  store,
		Secret: []byte("example-secret-of-at-least-32-bytes!"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	u, err := a.CreateUser(ctx, auth.CreateUserInput{Email: "ops@example.com", Password: "seeded-password"})
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Email, u.Role, u.IsActive)
	u, _ = a.MakeAdmin(ctx, u.ID)
	fmt.Println(u.Role)
	_, err = a.Login(ctx, auth.LoginInput{Email: "ops@example.com", Password: "wrong-password", ClientIP: "192.0.2.1"})
	fmt.Println(err)
	// Output:
	// ops@example.com user true
	// admin
	// invalid email or password
}

// Refresh rotates: every refresh token is good for one use, and the
// answer carries its successor.
func ExampleService_Refresh() {
	ctx := context.Background()
	a, done := serviceWithUser(ctx, "a@example.com", "a-good-password")
	defer done()
	first, _ := a.Login(ctx, auth.LoginInput{Email: "a@example.com", Password: "a-good-password", ClientIP: "192.0.2.1"})
	second, _ := a.Refresh(ctx, first.RefreshToken)
	fmt.Println(second.RefreshToken != first.RefreshToken, len(second.RefreshToken))
	_ = a.Logout(ctx, second.RefreshToken)
	_, err := a.Refresh(ctx, second.RefreshToken)
	fmt.Println(err)
	// Output:
	// true 86
	// token is invalid or expired
}

// A client keeps the device token of a sign-in and presents it at the
// next one (browsers do so with the ak_device cookie): its failures are
// then throttled on its own budget, and strangers who spent the account's
// budget do not lock it out. Every sign-in answers a fresh token.
func ExampleLoginInput() {
	ctx := context.Background()
	a, done := serviceWithUser(ctx, "a@example.com", "a-good-password")
	defer done()
	first, _ := a.Login(ctx, auth.LoginInput{Email: "a@example.com", Password: "a-good-password", ClientIP: "192.0.2.1"})
	next, err := a.Login(ctx, auth.LoginInput{
		Email: "a@example.com", Password: "a-good-password", ClientIP: "203.0.113.9",
		DeviceToken: first.DeviceToken,
	})
	fmt.Println(err, next.DeviceToken != first.DeviceToken)
	// Output:
	// <nil> true
}

// serviceWithUser is a Service on an in-memory SQLite store with one user.
func serviceWithUser(ctx context.Context, email, password string) (*auth.Service, func()) {
	store, _ := db.Open(ctx, "sqlite://:memory:")
	a, _ := auth.New(ctx, auth.Config{
		Store:  store,
		Secret: []byte("example-secret-of-at-least-32-bytes!"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	_, _ = a.CreateUser(ctx, auth.CreateUserInput{Email: email, Password: password})
	return a, func() { store.Close() }
}
