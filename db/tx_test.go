package db_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

// onServers runs fn in a subtest per server database whose URL is set,
// each on a fresh store (SQLite has one writer: its transactions cannot
// deadlock nor wait for each other's locks).
func onServers(t *testing.T, fn func(t *testing.T, s *db.Store)) {
	fresh := map[string]func(t *testing.T) string{
		"postgres": func(t *testing.T) string { return dbtest.FreshPostgres(t, testenv.PostgresURL(t)) },
		"mysql":    func(t *testing.T) string { return dbtest.FreshMySQL(t, testenv.MySQLURL(t)) },
	}
	for _, name := range []string{"postgres", "mysql"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := db.Open(context.Background(), fresh[name](t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

// Two transactions that update two entities in opposite orders deadlock;
// the database fails one of them, which sees ErrBusy inside fn, and Tx runs
// that one again: both commit, and the failed run left nothing behind.
func TestTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	onServers(t, func(t *testing.T, s *db.Store) {
		{
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, id := range []string{"a", "b"} {
				if _, err := s.SaveEntity(ctx, "acct", db.Entity{"id": id, "by": int64(-1)}); err != nil {
					t.Fatal(err)
				}
			}
			var (
				runs      atomic.Int64
				busySeen  atomic.Int64
				afterBusy atomic.Int64
				barrier   sync.WaitGroup
				first     [2]atomic.Bool
				wg        sync.WaitGroup
			)
			barrier.Add(2)
			errs := make([]error, 2)
			for w, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[w] = s.Tx(ctx, func(tx *db.Store) error {
						runs.Add(1)
						if _, err := tx.SaveEntity(ctx, "acct", db.Entity{"id": order[0], "by": int64(w)}); err != nil {
							return err
						}
						if !first[w].Swap(true) {
							barrier.Done()
							waitOrTimeout(&barrier) // both now hold their first row
						}
						_, err := tx.SaveEntity(ctx, "acct", db.Entity{"id": order[1], "by": int64(w)})
						if errors.Is(err, db.ErrBusy) {
							busySeen.Add(1)
							// The transaction is over: nothing more may run in it.
							if _, err2 := tx.SaveEntity(ctx, "stray", db.Entity{"w": int64(w)}); err2 == nil {
								afterBusy.Add(1)
							}
						}
						return err
					})
				}()
			}
			wg.Wait()
			for w, err := range errs {
				if err != nil {
					t.Errorf("Tx %d: %v", w, err)
				}
			}
			if busySeen.Load() == 0 || runs.Load() < 3 {
				t.Errorf("busy errors seen %d, runs %d: want a deadlock and a rerun", busySeen.Load(), runs.Load())
			}
			if n := afterBusy.Load(); n != 0 {
				t.Errorf("%d saves succeeded in a transaction the database had ended", n)
			}
			if n, err := s.CountEntities(ctx, "stray", ""); err != nil || n != 0 {
				t.Errorf("stray entities = %d, %v; want none", n, err)
			}
			for _, id := range []string{"a", "b"} {
				h, err := s.History(ctx, "acct", id)
				if err != nil || len(h) != 3 {
					t.Errorf("history of %s = %d versions, %v; want 3 (create + one update per Tx)", id, len(h), err)
				}
			}
		}
	})
}

func TestErrBusyHTTP(t *testing.T) {
	var he interface {
		HTTPStatus() int
		ErrorCode() string
	}
	if !errors.As(db.ErrBusy, &he) || he.HTTPStatus() != http.StatusServiceUnavailable || he.ErrorCode() != "busy" {
		t.Errorf("ErrBusy renders as %v", he)
	}
}

func waitOrTimeout(wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Transactions that each use one table and then add a column to a table
// another open transaction uses must all finish: on MySQL a transaction
// that waited for its ALTER while holding its own tables' metadata locks
// would wait in a cycle the server cannot see. Also the plain case of
// several transactions adding columns to the table they all use.
func TestTxSchemaChangesBesideOpenTx(t *testing.T) {
	t.Parallel()
	onServers(t, func(t *testing.T, s *db.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		const n = 4
		tables := make([]string, n)
		for i := range tables {
			tables[i] = "tbl_" + string(rune('a'+i))
			if _, err := s.SaveEntity(ctx, tables[i], db.Entity{"v": int64(0)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.SaveEntity(ctx, "common", db.Entity{"v": int64(0)}); err != nil {
			t.Fatal(err)
		}
		var barrier sync.WaitGroup
		barrier.Add(n)
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first := true
				errs[i] = s.Tx(ctx, func(tx *db.Store) error {
					if _, err := tx.SaveEntity(ctx, tables[i], db.Entity{"v": int64(i)}); err != nil {
						return err
					}
					if _, err := tx.SaveEntity(ctx, "common", db.Entity{"v": int64(i)}); err != nil {
						return err
					}
					if first {
						first = false
						barrier.Done()
						waitOrTimeout(&barrier) // every transaction holds its tables
					}
					// A new column in the next one's table, and in the common one.
					next := tables[(i+1)%n]
					if _, err := tx.SaveEntity(ctx, next, db.Entity{"from_" + tables[i]: true}); err != nil {
						return err
					}
					_, err := tx.SaveEntity(ctx, "common", db.Entity{"col_" + tables[i]: int64(i)})
					return err
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Tx %d: %v", i, err)
			}
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("transactions took %v", d)
		}
		for i := 0; i < n; i++ {
			if c, err := s.CountEntities(ctx, "common", "[col_"+tables[i]+"] = ?", i); err != nil || c != 1 {
				t.Errorf("common rows from Tx %d = %d, %v; want 1", i, c, err)
			}
		}
	})
}
