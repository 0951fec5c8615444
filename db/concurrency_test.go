package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/db/dbtest"
)

// Concurrent writers on one SQLite file queue behind the single writer
// connection instead of failing with "database is locked".
func TestSQLiteConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.NewSQLite(t)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.SaveEntity(ctx, "events", db.Entity{"worker": int64(w), "i": int64(i)}); err != nil {
					errs <- err
				}
				if i%50 == 0 { // readers run beside the writer
					if _, err := s.FindEntities(ctx, "events", db.Query{Where: "[worker] = ?", Params: []any{w}, Limit: 10}); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n < 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d errors", n)
	}
	if got, err := s.CountEntities(ctx, "events", ""); err != nil || got != workers*each {
		t.Fatalf("count = %d, %v; want %d", got, err, workers*each)
	}
}

// Two stores on one file (two processes) wait for each other's locks.
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := "sqlite:///" + filepath.Join(t.TempDir(), "nested", "dir", "shared.db")
	var stores []*db.Store
	for i := 0; i < 2; i++ {
		s, err := db.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for i := 0; i < 60; i++ {
				// New columns appear while the other store writes.
				field := fmt.Sprintf("f%d", i%7)
				if _, err := s.SaveEntity(ctx, "shared", db.Entity{field: int64(i), "w": int64(w)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := stores[1].CountEntities(ctx, "shared", ""); n != 360 {
		t.Errorf("count = %d, want 360", n)
	}
}

// sqlite://:memory: is one database shared by all the store's connections.
func TestSQLiteMemoryManyConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := db.OpenConfig(ctx, db.Config{URL: "sqlite://:memory:", MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				e, err := s.SaveEntity(ctx, "mem", db.Entity{"w": int64(w)})
				if err != nil {
					errs <- err
					continue
				}
				// Read back through the read pool: same database.
				if _, err := s.GetEntity(ctx, "mem", e["id"].(string)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := s.CountEntities(ctx, "mem", ""); n != 300 {
		t.Errorf("count = %d, want 300", n)
	}
	// Each :memory: store is its own database.
	if n, _ := other.CountEntities(ctx, "mem", ""); n != 0 {
		t.Errorf("another :memory: store sees %d entities", n)
	}
}

// A schema change outside a transaction waits for the SQLite writer that a
// transaction holds, while that transaction changes the schema too: both
// must finish.
func TestSQLiteDDLBesideTx(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := dbtest.NewSQLite(t)
	if _, err := s.SaveEntity(ctx, "ddl", db.Entity{"a": int64(1)}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	outside := make(chan error, 1)
	go func() {
		<-started
		_, err := s.SaveEntity(ctx, "ddl", db.Entity{"outside": true})
		outside <- err
	}()
	err := s.Tx(ctx, func(tx *db.Store) error {
		if _, err := tx.SaveEntity(ctx, "ddl", db.Entity{"in1": "x"}); err != nil {
			return err
		}
		close(started)
		time.Sleep(100 * time.Millisecond) // the outside save now waits for the writer
		_, err := tx.SaveEntity(ctx, "ddl", db.Entity{"in2": "y"})
		return err
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if err := <-outside; err != nil {
		t.Fatalf("save beside the Tx: %v", err)
	}
}
