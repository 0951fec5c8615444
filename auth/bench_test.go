package auth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

func benchService(b *testing.B, p Argon2Params) *Service {
	b.Helper()
	return benchServiceOn(b, "sqlite", p)
}

func benchServiceOn(b *testing.B, dialect string, p Argon2Params) *Service {
	b.Helper()
	a, err := New(context.Background(), Config{
		Store:    openStore(b, dialect),
		Secret:   testSecret,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Argon2:   p,
		Insecure: p != Argon2Params{},
	})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkAuthenticate compares one request through the same router with
// and without an access token: the difference is what authentication costs
// (JWT verification plus the cached user and session lookups).
//
//	go test ./auth -run '^$' -bench Authenticate -count 6 | benchstat -col /mode -
func BenchmarkAuthenticate(b *testing.B) {
	a := benchService(b, testArgon2)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, CreateUserInput{Email: "bench@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	tok, err := a.Login(ctx, LoginInput{Email: "bench@example.com", Password: "bench-password", ClientIP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(a.Authenticate)
	r.Get("/widgets", func(w http.ResponseWriter, r *http.Request) {
		_, ok := UserFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if ok {
			_, _ = io.WriteString(w, `{"user":true}`)
		} else {
			_, _ = io.WriteString(w, `{"user":false}`)
		}
	})
	for _, mode := range []string{"anonymous", "authenticated"} {
		b.Run("mode="+mode, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/widgets", nil)
			if mode == "authenticated" {
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req) // warm the identity cache
			if w.Code != http.StatusOK || (mode == "authenticated") != strings.Contains(w.Body.String(), "true") {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
			}
		})
	}
	// Every request presents a token the service has not verified yet:
	// the full HS256 verification and claims decoding run each time (user
	// and session lookups are still cached). The tokens come from a ring
	// whose entry is dropped from the verified-token cache before use, so
	// the live heap stays that of a service (b.N pre-built requests would
	// make the garbage collector, not verification, the cost measured).
	b.Run("mode=first-sight", func(b *testing.B) {
		sid := sessionOf(b, a, tok.AccessToken)
		tokens := make([]string, 1024)
		reqs := make([]*http.Request, len(tokens))
		for i := range reqs {
			at, err := a.signer.issue(tok.User, sid, time.Now()) // a fresh jti makes every token distinct
			if err != nil {
				b.Fatal(err)
			}
			tokens[i] = at
			reqs[i] = httptest.NewRequest("GET", "/widgets", nil)
			reqs[i].Header.Set("Authorization", "Bearer "+at)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			j := i % len(reqs)
			i++
			a.verified.Forget(tokens[j])
			w := httptest.NewRecorder()
			r.ServeHTTP(w, reqs[j])
			if w.Code != http.StatusOK {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
		}
	})
}

func sessionOf(b testing.TB, a *Service, token string) string {
	c, err := a.signer.verify(token)
	if err != nil {
		b.Fatal(err)
	}
	return c.SessionID
}

// BenchmarkLogin measures logins at the production argon2 parameters
// (m=19 MiB, t=2, p=1) with every core busy; logins/s is the figure.
//
//	go test ./auth -run '^$' -bench Login -count 6
func BenchmarkLogin(b *testing.B) {
	a := benchService(b, Argon2Params{})
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, CreateUserInput{Email: "bench@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Login(ctx, LoginInput{Email: "bench@example.com", Password: "bench-password", ClientIP: "127.0.0.1"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// BenchmarkRefresh measures one rotation on a SQLite file in WAL mode (as
// the service runs), following the chain like bench/authload, and reports
// the SQL statements each rotation sends.
//
//	go test ./auth -run '^$' -bench Refresh -count 6
func BenchmarkRefresh(b *testing.B) {
	a := benchServiceOn(b, "sqlite-file", testArgon2)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, CreateUserInput{Email: "bench@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	tok, err := a.Login(ctx, LoginInput{Email: "bench@example.com", Password: "bench-password", ClientIP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	rt := tok.RefreshToken
	before := a.store.Stats().Statements
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		t, err := a.Refresh(ctx, rt)
		if err != nil {
			b.Fatal(err)
		}
		rt = t.RefreshToken
		n++
	}
	b.ReportMetric(float64(a.store.Stats().Statements-before)/float64(n), "stmts/op")
}

// BenchmarkVerify compares verifying one access token with golang-jwt's
// Parser (concrete claims type, pinned options) and with the fast path the
// service uses for its own tokens (same checks, see token_verify.go).
//
//	go test ./auth -run '^$' -bench Verify -count 6 | benchstat -col /impl -
func BenchmarkVerify(b *testing.B) {
	ts := newTokenSigner(testSecret, "appkernel", time.Hour)
	tok, err := ts.issue(User{ID: "0198c4a6-1111-7000-8000-000000000001", Email: "bench@example.com", Role: RoleUser,
		WorkspaceID: "0198c4a6-2222-7000-8000-000000000002"}, "0198c4a6-3333-7000-8000-000000000003", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, impl := range []string{"golang-jwt", "appkernel"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if impl == "golang-jwt" {
					_, err = ts.verifyJWT(tok)
				} else {
					_, _, err = ts.verifyFast(tok)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
