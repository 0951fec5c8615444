package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// harness is a server with auth mounted the way the kernel mounts it
// (RequestID, Authenticate, /auth), a fake workspace service, and a few
// probe routes.
type harness struct {
	t     *testing.T
	srv   *httptest.Server
	auth  *Service
	store *db.Store
	cfg   Config
	ws    *fakeWorkspaces
	logs  *testenv.Buffer
}

// harnessOption adjusts the Config before New.
type harnessOption func(*Config)

func withSignup(c *Config)                           { c.AllowSelfSignup = true }
func withConfig(f func(*Config)) harnessOption       { return f }
func withoutWorkspaces(c *Config)                    { c.Workspaces = nil }
func withCacheTTL(d time.Duration) harnessOption     { return func(c *Config) { c.IdentityCacheTTL = d } }
func withRefreshGrace(d time.Duration) harnessOption { return func(c *Config) { c.RefreshGrace = d } }

// newHarness opens a fresh store of the dialect and serves auth on it.
func newHarness(t *testing.T, dialect string, opts ...harnessOption) *harness {
	t.Helper()
	store := openStore(t, dialect)
	return newHarnessOn(t, store, opts...)
}

// newHarnessOn serves a new Service on an existing store (a second
// "process" of the same service, for cache and upgrade tests).
func newHarnessOn(t *testing.T, store *db.Store, opts ...harnessOption) *harness {
	t.Helper()
	logs := &testenv.Buffer{}
	ws := &fakeWorkspaces{store: store}
	cfg := Config{
		Store:            store,
		Secret:           testSecret,
		Workspaces:       ws,
		Logger:           slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Argon2:           testArgon2,
		Insecure:         true,
		IdentityCacheTTL: 60 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, testClientIP, a.Authenticate)
	r.Mount("/auth", a.Routes())
	r.With(RequireAdmin).Get("/admin-only", func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, u)
	})
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"authenticated": ok, "user": u})
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, auth: a, store: store, cfg: cfg, ws: ws, logs: logs}
}

// testClientIP lets a test choose its client IP (the kernel's RealIP does
// this from trusted proxies).
func testClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := r.Header.Get("X-Test-IP"); ip != "" {
			r.RemoteAddr = net.JoinHostPort(ip, "1234")
		}
		next.ServeHTTP(w, r)
	})
}

func openStore(t testing.TB, dialect string) *db.Store {
	t.Helper()
	ctx := context.Background()
	var u string
	switch dialect {
	case "sqlite":
		u = "sqlite://:memory:"
	case "sqlite-file": // WAL on disk, as a service runs
		u = "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")
	case "postgres":
		u = dbtest.FreshPostgres(t, testenv.PostgresURL(t))
	case "mysql":
		u = dbtest.FreshMySQL(t, testenv.MySQLURL(t))
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	s, err := db.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// withRedis keeps the throttling of the harness in Redis under a prefix
// of its own.
func withRedis(t *testing.T) harnessOption {
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	prefix := uniquePrefix(t)
	t.Cleanup(func() { deletePrefix(rdb, prefix); _ = rdb.Close() })
	return func(c *Config) { c.Redis, c.RedisPrefix = rdb, prefix }
}

// forEachThrottle runs fn as parallel subtests on a SQLite harness with
// open signup, its login throttle in memory and in Redis.
func forEachThrottle(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, newHarness(t, "sqlite", withSignup))
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		fn(t, newHarness(t, "sqlite", withSignup, withRedis(t)))
	})
}

// resp is an HTTP response with its body read.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// code returns error.code of an error body.
func (r resp) code(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends method path with a JSON body (nil for none) and headers given
// as name, value pairs.
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

func bearerH(token string) []string { return []string{"Authorization", "Bearer " + token} }

// session is what register and login answer.
type session struct {
	DeviceToken  string `json:"device_token"`
	User         User   `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

func (h *harness) decodeSession(r resp, want int) session {
	h.t.Helper()
	if r.status != want {
		h.t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	var s session
	if err := json.Unmarshal(r.body, &s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) register(email, password string) session {
	h.t.Helper()
	return h.decodeSession(h.do("POST", "/auth/register", map[string]string{"email": email, "password": password}), http.StatusCreated)
}

func (h *harness) login(email, password string) session {
	h.t.Helper()
	return h.decodeSession(h.do("POST", "/auth/login", map[string]string{"email": email, "password": password}), http.StatusOK)
}

func (h *harness) refresh(token string) resp {
	h.t.Helper()
	return h.do("POST", "/auth/refresh", map[string]string{"refresh_token": token})
}

// createUser makes a user through the Go API (signup rules do not apply).
func (h *harness) createUser(email, password, role string) User {
	h.t.Helper()
	u, err := h.auth.CreateUser(context.Background(), CreateUserInput{Email: email, Password: password, Role: role})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// fakeWorkspaces is a minimal WorkspaceHooks on the same store, in tables
// of its own: personal workspaces, members and single-use invites.
type fakeWorkspaces struct{ store *db.Store }

func (*fakeWorkspaces) CreatePersonal(ctx context.Context, tx *db.Store, u User) (string, error) {
	ws, err := tx.SaveEntity(ctx, "fake_workspaces", db.Entity{"name": u.Email, "owner_id": u.ID})
	if err != nil {
		return "", err
	}
	id := ws["id"].(string)
	_, err = tx.SaveEntity(ctx, "fake_members", db.Entity{"workspace_id": id, "user_id": u.ID, "role": "owner"})
	return id, err
}

func (*fakeWorkspaces) AcceptInvite(ctx context.Context, tx *db.Store, token string, u User) (string, error) {
	rows, err := tx.FindEntities(ctx, "fake_invites", db.Query{Where: "[token] = ? AND [used] = ?", Params: []any{token, false}})
	if err != nil {
		return "", err
	}
	if len(rows) == 0 || rows[0]["email"] != u.Email {
		return "", fmt.Errorf("fake invite %q: %w", token, ErrInvalidInvite)
	}
	inv := rows[0]
	if _, err := tx.SaveEntity(ctx, "fake_invites", db.Entity{"id": inv["id"], "used": true}); err != nil {
		return "", err
	}
	ws := inv["workspace_id"].(string)
	_, err = tx.SaveEntity(ctx, "fake_members", db.Entity{"workspace_id": ws, "user_id": u.ID, "role": "member"})
	return ws, err
}

func (f *fakeWorkspaces) CheckInvite(ctx context.Context, token, email string) error {
	n, err := f.store.CountEntities(ctx, "fake_invites", "[token] = ? AND [used] = ? AND [email] = ?", token, false, email)
	if err == nil && n == 0 {
		err = fmt.Errorf("fake invite %q: %w", token, ErrInvalidInvite)
	}
	return err
}

func (f *fakeWorkspaces) MemberWorkspaces(ctx context.Context, userID string, limit int) ([]string, error) {
	rows, err := f.store.FindEntities(ctx, "fake_members", db.Query{Where: "[user_id] = ?", Params: []any{userID}, Limit: limit})
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i], _ = r["workspace_id"].(string)
	}
	return ids, err
}

func (f *fakeWorkspaces) IsMember(ctx context.Context, workspaceID, userID string) (bool, error) {
	n, err := f.store.CountEntities(ctx, "fake_members", "[workspace_id] = ? AND [user_id] = ?", workspaceID, userID)
	return n > 0, err
}

// invite stores an unused invite of workspace ws for email.
func (h *harness) invite(ws, email, token string) {
	h.t.Helper()
	if _, err := h.store.SaveEntity(context.Background(), "fake_invites",
		db.Entity{"token": token, "email": email, "workspace_id": ws, "used": false}); err != nil {
		h.t.Fatal(err)
	}
}

// removeMember deletes the membership of userID in workspace ws.
func (h *harness) removeMember(ws, userID string) {
	h.t.Helper()
	ctx := context.Background()
	rows, err := h.store.FindEntities(ctx, "fake_members", db.Query{Where: "[workspace_id] = ? AND [user_id] = ?", Params: []any{ws, userID}})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := h.store.DeleteEntity(ctx, "fake_members", r["id"].(string), true); err != nil {
			h.t.Fatal(err)
		}
	}
	if len(rows) == 0 {
		h.t.Fatalf("%s is no member of %s", userID, ws)
	}
}
