package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"appkernel/admin"
	"appkernel/db"
)

// Without Redis a Recorder persists its batches straight into the admin
// database; Stop ships what is buffered.
func ExampleRecorder() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "admin-example")
	defer os.RemoveAll(dir)
	store, err := db.Open(ctx, "sqlite:///"+filepath.Join(dir, "admin.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	if err := admin.Migrate(ctx, store); err != nil {
		panic(err)
	}

	rec, err := admin.NewRecorder(admin.RecorderOptions{Store: store})
	if err != nil {
		panic(err)
	}
	if err := rec.Start(ctx); err != nil {
		panic(err)
	}
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		rec.Emit(admin.Event{ID: fmt.Sprint("req-", i), Kind: admin.KindRequest, App: "shop", Time: at,
			WorkspaceID: "w1", UserID: "u1", Method: "GET", Route: "/widgets/{id}", Status: 200})
	}
	rec.Emit(admin.Event{ID: "tokens-1", Kind: admin.KindUsage, App: "shop", Time: at,
		WorkspaceID: "w1", UserID: "u1", Metrics: map[string]int64{"tokens": 1500}})
	if err := rec.Stop(ctx); err != nil {
		panic(err)
	}

	rows, err := store.DB().Query("SELECT metric, period, value FROM usage_aggregates ORDER BY metric, period")
	if err != nil {
		panic(err)
	}
	defer rows.Close()
	for rows.Next() {
		var metric, period string
		var value int64
		_ = rows.Scan(&metric, &period, &value)
		fmt.Println(metric, period, value)
	}
	// Output:
	// requests 2026-12 3
	// requests 2026-12-06 3
	// tokens 2026-12 1500
	// tokens 2026-12-06 1500
}
