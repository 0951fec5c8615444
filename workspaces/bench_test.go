package workspaces

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// BenchmarkRequireMember compares a request through RequireMember with the
// plain alternative: the same membership check written by hand as one raw
// database/sql query on the same SQLite store.
//
//	go test -run '^$' -bench RequireMember -count 6 ./workspaces/ | tee /tmp/rm.txt
func BenchmarkRequireMember(b *testing.B) {
	ctx := context.Background()
	store, err := openBenchStore(b)
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{Store: store})
	if err := s.Init(ctx); err != nil {
		b.Fatal(err)
	}
	// Some tenants, so the index matters.
	var u auth.User
	for i := range 200 {
		u = auth.User{ID: sprintf("user-%d", i), Email: sprintf("u%d@example.com", i)}
		if _, err := s.Create(ctx, u.ID, "team"); err != nil {
			b.Fatal(err)
		}
	}
	list, _ := s.ListForUser(ctx, u.ID)
	wsID := list[0].ID
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	raw := store.DB()
	query := `SELECT "role" FROM "members" WHERE "workspace_id" = ? AND "user_id" = ? AND "deleted_at" IS NULL LIMIT 1`
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var role string
		if err := raw.QueryRowContext(r.Context(), query, r.Header.Get(WorkspaceHeader), u.ID).Scan(&role); err != nil {
			middleware.WriteErrorCode(w, r, http.StatusNotFound, "not_found", "workspace not found")
			return
		}
		ok.ServeHTTP(w, r.WithContext(WithMembership(r.Context(), wsID, role)))
	})
	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest("GET", "/", nil).WithContext(auth.WithUser(ctx, u))
		req.Header.Set(WorkspaceHeader, wsID)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Fatalf("status %d %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("impl=RequireMember", func(b *testing.B) { run(b, s.RequireMember(ok)) })
	b.Run("impl=raw_sql", func(b *testing.B) { run(b, plain) })
}

func openBenchStore(b *testing.B) (*db.Store, error) {
	s, err := db.Open(context.Background(), "sqlite:///"+b.TempDir()+"/bench.db")
	if err == nil {
		b.Cleanup(func() { s.Close() })
	}
	return s, err
}
