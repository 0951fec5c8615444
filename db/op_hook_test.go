package db_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

type ctxKey struct{}

// Config.OnOp is told every entity operation, with the caller's context,
// its table, its duration and its error, inside transactions too, on every
// database.
func TestOnOpReportsEveryOperation(t *testing.T) {
	t.Parallel()
	for _, d := range []struct {
		name  string
		fresh func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return dbtest.FreshSQLite(t) }},
		{"postgres", func(t *testing.T) string { return dbtest.FreshPostgres(t, testenv.PostgresURL(t)) }},
		{"mysql", func(t *testing.T) string { return dbtest.FreshMySQL(t, testenv.MySQLURL(t)) }},
	} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var ops []db.Op
			s, err := db.OpenConfig(context.Background(), db.Config{URL: d.fresh(t), OnOp: func(ctx context.Context, op db.Op) {
				if ctx.Value(ctxKey{}) != "caller" {
					t.Errorf("%s: not the caller's context", op.Name)
				}
				mu.Lock()
				ops = append(ops, op)
				mu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.WithValue(context.Background(), ctxKey{}, "caller")
			e, err := s.SaveEntity(ctx, "gadgets", map[string]any{"name": "cog"})
			if err != nil {
				t.Fatal(err)
			}
			id := e["id"].(string)
			_, _ = s.GetEntity(ctx, "gadgets", id)
			_, _ = s.GetEntity(ctx, "gadgets", "missing")
			_, _ = s.FindEntities(ctx, "gadgets", db.Query{})
			_, _ = s.CountEntities(ctx, "gadgets", "")
			_, _ = s.History(ctx, "gadgets", id)
			_, _ = s.FindEntities(ctx, "gadgets", db.Query{Where: "[nope] = = ?"})
			err = s.Tx(ctx, func(tx *db.Store) error {
				_, err := tx.DeleteEntity(ctx, "gadgets", id, false)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}

			mu.Lock()
			defer mu.Unlock()
			var names []string
			for _, op := range ops {
				names = append(names, op.Name)
				if op.Table != "gadgets" || op.Duration <= 0 || op.Start.IsZero() {
					t.Errorf("op %+v", op)
				}
			}
			want := []string{"save", "get", "get", "find", "count", "history", "find", "delete"}
			if !slices.Equal(names, want) {
				t.Fatalf("ops %v, want %v", names, want)
			}
			if ops[1].Err != nil || !errors.Is(ops[2].Err, db.ErrNotFound) || !errors.Is(ops[6].Err, db.ErrInvalidQuery) || ops[7].Err != nil {
				t.Errorf("errors: get %v, missing %v, bad find %v, delete %v", ops[1].Err, ops[2].Err, ops[6].Err, ops[7].Err)
			}
		})
	}
}
