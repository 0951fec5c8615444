package workspaces

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// harness serves the workspace routes the way the kernel mounts them
// (RequestID, an authenticating middleware, /workspaces), plus probe routes
// guarded by RequireMember as an app would write them. Users are injected
// with auth.WithUser from the test-only header "Authorization: Test <id>",
// which keeps these tests independent of JWTs.
type harness struct {
	t     *testing.T
	srv   *httptest.Server
	ws    *Service
	store *db.Store

	mu    sync.Mutex
	users map[string]auth.User
}

// newHarness opens a fresh store of the dialect ("sqlite", "postgres",
// "mysql") and serves a Service built with cfg changed by opts.
func newHarness(t *testing.T, dialect string, opts ...func(*Config)) *harness {
	t.Helper()
	store := openStore(t, dialect)
	cfg := Config{Store: store}
	for _, o := range opts {
		o(&cfg)
	}
	ws := New(cfg)
	if err := ws.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ws: ws, store: store, users: map[string]auth.User{}}

	probe := func(w http.ResponseWriter, r *http.Request) {
		role, _ := RoleFrom(r.Context())
		id, _ := WorkspaceIDFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"workspace_id": id, "role": role})
	}
	// A route of another feature under /workspaces/{id} (see Extend).
	ws.Extend(func(r chi.Router) { r.With(ws.RequireRole(RoleAdmin)).Get("/ext", probe) })
	r := chi.NewRouter()
	r.Use(middleware.RequestID, h.authenticate)
	r.Mount("/workspaces", ws.Routes())
	r.With(ws.RequireMember).Get("/probe", probe)
	r.With(ws.RequireRole(RoleAdmin)).Get("/probe/admin", probe)
	r.Route("/app/{workspace_id}", func(r chi.Router) {
		r.Use(ws.RequireMember)
		r.Get("/things", probe)
	})
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test "); ok {
			h.mu.Lock()
			u, found := h.users[id]
			h.mu.Unlock()
			if found {
				r = r.WithContext(auth.WithUser(r.Context(), u))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// user registers a user the way auth does: a user id and a personal
// workspace created by CreatePersonal inside a transaction.
func (h *harness) user(email string) auth.User {
	h.t.Helper()
	u := auth.User{ID: uuid.NewString(), Email: email, Role: "user", IsActive: true}
	err := h.store.Tx(context.Background(), func(tx *db.Store) error {
		id, err := h.ws.CreatePersonal(context.Background(), tx, u)
		u.WorkspaceID = id
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.users[u.ID] = u
	h.mu.Unlock()
	return u
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a JSON request as u (zero User: anonymous).
func (h *harness) do(u auth.User, method, path string, body any, header ...string) response {
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
	if u.ID != "" {
		req.Header.Set("Authorization", "Test "+u.ID)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
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
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// expect fails the test unless the status is want, and decodes the body
// into dst when dst is not nil.
func (r response) expect(t *testing.T, want int, dst any) response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body %s", r.Status, want, r.Body)
	}
	if dst != nil {
		if err := json.Unmarshal(r.Body, dst); err != nil {
			t.Fatalf("decode %s: %v", r.Body, err)
		}
	}
	return r
}

// expectError checks status and error code of the kernel error shape.
func (r response) expectError(t *testing.T, status int, code string) {
	t.Helper()
	var e middleware.ErrorBody
	r.expect(t, status, &e)
	if e.Error.Code != code {
		t.Fatalf("error code %q, want %q; body %s", e.Error.Code, code, r.Body)
	}
}

// withoutRequestID is the body with its request_id removed, to compare two
// error responses byte for byte.
func (r response) withoutRequestID(t *testing.T) string {
	t.Helper()
	var e middleware.ErrorBody
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	e.Error.RequestID = ""
	b, _ := json.Marshal(e)
	return fmt.Sprintf("%d %s", r.Status, b)
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

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
