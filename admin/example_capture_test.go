package admin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"appkernel/admin"
	"appkernel/db"
)

// printSink prints what it is given, in place of the admin recorder.
type printSink struct{}

func (printSink) Emit(e admin.Event) {
	switch e.Kind {
	case admin.KindAudit:
		fields := make([]string, 0, len(e.Changes))
		for f := range e.Changes {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		fmt.Println(e.Kind, e.Action, e.Entity, fields)
		for _, f := range fields {
			fmt.Printf("  %s: %v → %v\n", f, e.Changes[f].Old, e.Changes[f].New)
		}
	case admin.KindUsage:
		fmt.Println(e.Kind, e.UserID, e.WorkspaceID, e.Metrics)
	}
}

// The audit observer on a store: one event per committed change, only
// the changed fields of an update, secrets redacted.
func ExampleAuditObserver() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite:///"+filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	store.OnChange(admin.AuditObserver("widget_service", printSink{}))

	w, _ := store.SaveEntity(ctx, "widgets", db.Entity{"name": "sprocket", "api_token": "t0p"})
	_, _ = store.SaveEntity(ctx, "widgets", db.Entity{"id": w["id"], "name": "gear"})
	// Output:
	// audit create widgets [api_token name]
	//   api_token: <nil> → [redacted]
	//   name: <nil> → sprocket
	// audit update widgets [name]
	//   name: sprocket → gear
}

// TrackUsage in a job: the context carries the sink (a request through
// the metering middleware has it already).
func ExampleTrackUsage() {
	ctx := admin.WithSink(context.Background(), printSink{})
	if err := admin.TrackUsage(ctx, "widget_service", "user-1", "ws-1", map[string]int64{"tokens": 1500}); err != nil {
		panic(err)
	}
	err := admin.TrackUsage(context.Background(), "widget_service", "user-1", "ws-1", map[string]int64{"tokens": 1500})
	fmt.Println(errors.Is(err, admin.ErrNoSink))
	// Output:
	// usage user-1 ws-1 map[tokens:1500]
	// true
}
