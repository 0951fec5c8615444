package apikeys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"appkernel/apikeys"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
	"appkernel/middleware"
	"appkernel/workspaces"
)

// clock is a settable clock for key expiry and last-used times.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// harness is one instance of a service: auth, workspaces and API keys on a
// store, mounted as the kernel mounts them, with probe routes an app would
// write.
type harness struct {
	t     *testing.T
	srv   *httptest.Server
	store *db.Store
	auth  *auth.Service
	ws    *workspaces.Service
	keys  *apikeys.Service
	clock *clock
}

type option func(*apikeys.Config)

func withTTL(d time.Duration) option { return func(c *apikeys.Config) { c.CacheTTL = d } }

// withRedis shares rdb and prefix between the instances given it.
func withRedis(rdb redis.UniversalClient, prefix string) option {
	return func(c *apikeys.Config) { c.Redis, c.Prefix = rdb, prefix }
}

func newHarness(t *testing.T, dialect string, opts ...option) *harness {
	t.Helper()
	return newHarnessOn(t, openStore(t, dialect), &clock{}, opts...)
}

// newHarnessOn serves another instance on store (its own caches).
func newHarnessOn(t *testing.T, store *db.Store, clk *clock, opts ...option) *harness {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ws := workspaces.New(workspaces.Config{Store: store, Logger: logger})
	if err := ws.Init(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(ctx, auth.Config{
		Store:            store,
		Secret:           []byte("0123456789abcdef0123456789abcdef"),
		AllowSelfSignup:  true,
		Workspaces:       ws,
		Logger:           logger,
		Argon2:           auth.Argon2Params{Memory: 64, Time: 1, Threads: 1},
		Insecure:         true,
		IdentityCacheTTL: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetUsers(a)
	cfg := apikeys.Config{Store: store, Workspaces: ws, Logger: logger, Now: clk.now}
	for _, o := range opts {
		o(&cfg)
	}
	keys, err := apikeys.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	a.SetKeyVerifier(keys)

	whoami := func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserFrom(r.Context())
		p, _ := auth.PrincipalFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"user": u, "principal": p})
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.Authenticate)
	r.Mount("/auth", a.Routes())
	r.Mount("/auth/api-keys", keys.Routes())
	r.Mount("/workspaces", ws.Routes())
	r.With(auth.RequireUser).Get("/whoami", whoami)
	r.With(auth.RequireAdmin).Get("/admin", whoami)
	r.With(auth.RequireScope("widgets:read")).Get("/scoped", whoami)
	r.With(ws.RequireMember).Get("/probe", whoami)
	r.Route("/app/{workspace_id}", func(r chi.Router) {
		r.Use(ws.RequireMember)
		r.Get("/things", whoami)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, store: store, auth: a, ws: ws, keys: keys, clock: clk}
}

func openStore(t *testing.T, dialect string) *db.Store {
	t.Helper()
	var u string
	switch dialect {
	case "sqlite":
		u = "sqlite://:memory:"
	case "postgres":
		u = dbtest.FreshPostgres(t, testenv.PostgresURL(t))
	case "mysql":
		u = dbtest.FreshMySQL(t, testenv.MySQLURL(t))
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	s, err := db.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// redisClient returns a client of the test Redis and a prefix of the test's own.
func redisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	return rdb, "apikeystest:" + hex.EncodeToString(b[:]) + ":"
}

// register signs up a user and returns their tokens.
func (h *harness) register(email string) *auth.Tokens {
	h.t.Helper()
	tok, err := h.auth.Register(context.Background(), auth.RegisterInput{Email: email, Password: "correct horse battery"})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// createKey creates a key over HTTP with the access token and returns it.
func (h *harness) createKey(access string, body map[string]any) apikeys.Created {
	h.t.Helper()
	var c apikeys.Created
	h.do("POST", "/auth/api-keys", body, bearer(access)...).expect(h.t, http.StatusCreated, &c)
	if c.Secret == "" || c.ID == "" {
		h.t.Fatalf("created key without secret or id: %+v", c)
	}
	return c
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(method, path string, body any, headers ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func (r resp) expect(t *testing.T, status int, dst any) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if dst != nil {
		if err := json.Unmarshal(r.body, dst); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
	return r
}

func (r resp) expectError(t *testing.T, status int, code string) {
	t.Helper()
	var e middleware.ErrorBody
	r.expect(t, status, &e)
	if e.Error.Code != code {
		t.Fatalf("error code %q, want %q; body %s", e.Error.Code, code, r.body)
	}
}

// identity is the body of the probe routes.
type identity struct {
	User      auth.User      `json:"user"`
	Principal auth.Principal `json:"principal"`
}

// eventually polls cond every 10 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
