package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"appkernel/db"
)

// The statement cache stays within Config.MaxStatements per pool however
// many distinct clauses are run, results stay right while entries are
// evicted, and a negative size turns it off.
func TestStatementCacheBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, max := range []int{3, -1} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			s, err := db.OpenConfig(ctx, db.Config{URL: "sqlite:///" + filepath.Join(t.TempDir(), "c.db"), MaxStatements: max})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < 20; i++ {
				if _, err := s.SaveEntity(ctx, "items", db.Entity{"n": int64(i)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 20; i++ {
				// A distinct statement text per clause.
				where := fmt.Sprintf("[n] >= ? AND [n] < %d", i+1)
				es, err := s.FindEntities(ctx, "items", db.Query{Where: where, Params: []any{0}})
				if err != nil || len(es) != i+1 {
					t.Fatalf("%s: %d entities, %v; want %d", where, len(es), err, i+1)
				}
			}
			limit := 2 * max // SQLite: a write pool and a read pool
			if max < 0 {
				limit = 0
			}
			if got := s.Stats().Prepared; got > limit || max > 0 && got == 0 {
				t.Errorf("%d statements cached, want at most %d (and some when on)", got, limit)
			}
		})
	}
}
