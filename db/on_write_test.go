package db_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"appkernel/db"
	"appkernel/db/dbtest"
)

// OnWrite hears of every committed write with the table's name, history
// on or off; a transaction's writes only after its commit, once per table,
// and a rolled-back one's never.
func TestOnWriteAfterCommitOnly(t *testing.T) {
	t.Parallel()
	s := dbtest.NewSQLite(t)
	ctx := context.Background()
	s.DisableHistory("secrets")
	var mu sync.Mutex
	var heard []string
	s.OnWrite(func(table string) {
		mu.Lock()
		heard = append(heard, table)
		mu.Unlock()
	})
	took := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := heard
		heard = nil
		return out
	}
	if _, err := s.SaveEntity(ctx, "secrets", db.Entity{"v": "x"}); err != nil {
		t.Fatal(err)
	}
	if got := took(); !slices.Equal(got, []string{"secrets"}) {
		t.Fatalf("a save outside Tx: heard %v", got)
	}
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx *db.Store) error {
		if _, err := tx.SaveEntity(ctx, "secrets", db.Entity{"v": "y"}); err != nil {
			return err
		}
		if got := took(); len(got) != 0 {
			t.Errorf("heard %v before the commit", got)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := took(); len(got) != 0 {
		t.Fatalf("a rolled-back Tx: heard %v", got)
	}
	err = s.Tx(ctx, func(tx *db.Store) error {
		for _, table := range []string{"secrets", "notes", "secrets"} {
			if _, err := tx.SaveEntity(ctx, table, db.Entity{"v": "z"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := took()
	slices.Sort(got)
	if !slices.Equal(got, []string{"notes", "secrets"}) {
		t.Fatalf("a committed Tx: heard %v, want each table once", got)
	}
}
