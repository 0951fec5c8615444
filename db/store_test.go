package db_test

import (
	"context"
	"errors"
	"testing"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshSQLite(t) })
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	base := testenv.PostgresURL(t)
	dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshPostgres(t, base) })
}

func TestMySQL(t *testing.T) {
	t.Parallel()
	base := testenv.MySQLURL(t)
	dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshMySQL(t, base) })
}

// A new row of a table without history is a single INSERT (no BEGIN or
// COMMIT of its own); conflicts on it are still db.ErrConflict.
func TestInsertWithoutHistoryIsOneStatement(t *testing.T) {
	ctx := context.Background()
	s, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.DisableHistory("tokens")
	if err := s.EnsureColumns(ctx, "tokens", db.Entity{"k": int64(0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndex(ctx, "tokens", []string{"k"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveEntity(ctx, "tokens", db.Entity{"k": int64(1)}); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Statements
	if _, err := s.SaveEntity(ctx, "tokens", db.Entity{"k": int64(2)}); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Statements - before; n != 1 {
		t.Fatalf("insert without history sent %d statements, want 1", n)
	}
	if _, err := s.SaveEntity(ctx, "tokens", db.Entity{"k": int64(2)}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate: %v, want db.ErrConflict", err)
	}
	if n, _ := s.CountEntities(ctx, "tokens", ""); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}
