package admin_test

import (
	"context"
	"sync"
	"testing"

	"appkernel/admin"
	"appkernel/db"
	"appkernel/db/dbtest"
)

// TestMigrateConcurrently: instances starting together on one fresh
// database all migrate it (Postgres answers a CREATE … IF NOT EXISTS that
// races another with a unique violation of its catalog).
func TestMigrateConcurrently(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			url := dbtest.Fresh(t, d)
			// SQLite: one process, its goroutines (a fresh file opened by
			// several processes at once is not SQLite's deployment).
			var shared *db.Store
			if d == "sqlite" {
				var err error
				if shared, err = db.Open(context.Background(), url); err != nil {
					t.Fatal(err)
				}
				defer shared.Close()
			}
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for range 6 {
				wg.Go(func() {
					store := shared
					if store == nil {
						var err error
						if store, err = db.Open(context.Background(), url); err != nil {
							errs <- err
							return
						}
						defer store.Close()
					}
					errs <- admin.Migrate(context.Background(), store)
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("Migrate beside others: %v", err)
				}
			}
		})
	}
}
