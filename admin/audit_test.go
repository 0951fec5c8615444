package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// inRequest runs fn with the context of a request that went through
// middleware.RequestID with the given request id, as principal p.
func inRequest(t *testing.T, requestID string, p auth.Principal, fn func(ctx context.Context)) {
	t.Helper()
	h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithUser(r.Context(), auth.User{ID: p.UserID, WorkspaceID: p.WorkspaceID})
		if p.Type != "" {
			ctx = auth.WithPrincipal(ctx, p)
		}
		fn(ctx)
	}))
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Header.Set(middleware.RequestIDHeader, requestID)
	h.ServeHTTP(httptest.NewRecorder(), req)
}

// onlyEvent waits for the next event in sink (a Recorder ships it within
// its flush interval) and returns it; there must be one only.
func onlyEvent(t *testing.T, sink *captureSink) admin.Event {
	t.Helper()
	waitFor(t, 5*time.Second, "an event", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.events) > 0
	})
	ev := sink.take()
	if len(ev) != 1 {
		t.Fatalf("%d events, want 1: %+v", len(ev), ev)
	}
	return ev[0]
}

func wantChanges(t *testing.T, e admin.Event, want map[string]admin.FieldChange) {
	t.Helper()
	if len(e.Changes) != len(want) {
		t.Fatalf("%s: changes %v, want %v", e.Action, e.Changes, want)
	}
	for f, w := range want {
		got, ok := e.Changes[f]
		if !ok {
			t.Fatalf("%s: no change of %s in %v", e.Action, f, e.Changes)
		}
		if w.Old == "*" { // any non-nil value
			if got.Old == nil {
				t.Fatalf("%s: %s old is nil, want a value", e.Action, f)
			}
		} else if fmt.Sprint(got.Old) != fmt.Sprint(w.Old) {
			t.Fatalf("%s: %s old %v, want %v", e.Action, f, got.Old, w.Old)
		}
		if w.New == "*" {
			if got.New == nil {
				t.Fatalf("%s: %s new is nil, want a value", e.Action, f)
			}
		} else if fmt.Sprint(got.New) != fmt.Sprint(w.New) {
			t.Fatalf("%s: %s new %v, want %v", e.Action, f, got.New, w.New)
		}
	}
}

// auditSinks runs fn with an audit observer emitting to a plain Sink (which
// gets events complete at once) and to a Recorder (which completes them in
// its flusher: the ids and the field changes); either way the events land
// in the captureSink fn is given.
func auditSinks(t *testing.T, fn func(t *testing.T, store *db.Store, observe func(context.Context, db.Change), sink *captureSink)) {
	captureDialects(t, func(t *testing.T, store *db.Store) {
		t.Run("sink", func(t *testing.T) {
			sink := &captureSink{}
			fn(t, store, admin.AuditObserver("widget_service", sink), sink)
		})
		t.Run("recorder", func(t *testing.T) {
			sink := &captureSink{}
			rec := admin.NewRecorderTo(t, admin.RecorderOptions{FlushInterval: time.Millisecond}, func(batch []admin.Event) {
				for _, e := range batch {
					sink.Emit(e)
				}
			})
			fn(t, store, admin.AuditObserver("widget_service", rec), sink)
		})
	})
}

func TestAuditObserverRecordsEachChange(t *testing.T) {
	auditSinks(t, func(t *testing.T, store *db.Store, observe func(context.Context, db.Change), sink *captureSink) {
		var on atomic.Bool
		on.Store(true)
		defer on.Store(false) // the store outlives the subtest: its observer stops
		store.OnChange(func(ctx context.Context, c db.Change) {
			if on.Load() {
				observe(ctx, c)
			}
		})
		p := auth.Principal{Type: auth.PrincipalAPIKey, UserID: "user-1", WorkspaceID: "ws-1", KeyID: "key-1"}
		var id string
		before := time.Now().UTC()

		inRequest(t, "req-create", p, func(ctx context.Context) {
			w, err := store.SaveEntity(ctx, "widgets", db.Entity{"name": "sprocket", "size": int64(3), "password_hash": "argon2id$abc", "api_token": "tok",
				"settings": map[string]any{"theme": "dark", "webhook": map[string]any{"url": "https://x", "signing_secret": "s3"}}})
			if err != nil {
				t.Fatal(err)
			}
			id = w["id"].(string)
		})
		e := onlyEvent(t, sink)
		if e.Kind != admin.KindAudit || e.App != "widget_service" || e.Action != "create" || e.Entity != "widgets" || e.EntityID != id {
			t.Fatalf("create event %+v", e)
		}
		if e.UserID != "user-1" || e.WorkspaceID != "ws-1" || e.APIKeyID != "key-1" || e.RequestID != "req-create" {
			t.Fatalf("identity of %+v", e)
		}
		u, err := uuid.Parse(e.ID)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("event id %q is not a UUIDv7 (%v)", e.ID, err)
		}
		if sec, _ := u.Time().UnixTime(); sec < e.Time.Unix()-1 || sec > e.Time.Unix()+1 {
			t.Fatalf("event id %q holds the time %d, the event %v", e.ID, sec, e.Time)
		}
		if e.Time.Before(before) || e.Time.After(time.Now()) || e.Time.Location() != time.UTC {
			t.Fatalf("event time %v not between %v and now, UTC", e.Time, before)
		}
		// Every field but id/created_at/updated_at; secrets redacted.
		wantChanges(t, e, map[string]admin.FieldChange{
			"name":          {Old: nil, New: "sprocket"},
			"size":          {Old: nil, New: 3},
			"password_hash": {Old: nil, New: admin.Redacted},
			"api_token":     {Old: nil, New: admin.Redacted},
			"settings":      {Old: nil, New: map[string]any{"theme": "dark", "webhook": map[string]any{"url": "https://x", "signing_secret": admin.Redacted}}},
		})

		// An update: only the changed fields.
		inRequest(t, "req-update", auth.Principal{UserID: "user-2"}, func(ctx context.Context) {
			if _, err := store.SaveEntity(ctx, "widgets", db.Entity{"id": id, "name": "gear", "size": int64(3), "password_hash": "argon2id$def"}); err != nil {
				t.Fatal(err)
			}
		})
		e = onlyEvent(t, sink)
		if e.Action != "update" || e.UserID != "user-2" || e.APIKeyID != "" || e.RequestID != "req-update" {
			t.Fatalf("update event %+v", e)
		}
		wantChanges(t, e, map[string]admin.FieldChange{
			"name":          {Old: "sprocket", New: "gear"},
			"password_hash": {Old: admin.Redacted, New: admin.Redacted},
		})

		// Outside a request: no identity.
		ctx := context.Background()
		if _, err := store.DeleteEntity(ctx, "widgets", id, false); err != nil {
			t.Fatal(err)
		}
		e = onlyEvent(t, sink)
		if e.Action != "delete" || e.UserID != "" || e.RequestID != "" {
			t.Fatalf("soft delete event %+v", e)
		}
		wantChanges(t, e, map[string]admin.FieldChange{"deleted_at": {Old: nil, New: "*"}})

		if _, err := store.SaveEntity(ctx, "widgets", db.Entity{"id": id}); err != nil {
			t.Fatal(err)
		}
		e = onlyEvent(t, sink)
		if e.Action != "restore" {
			t.Fatalf("restore event %+v", e)
		}
		wantChanges(t, e, map[string]admin.FieldChange{"deleted_at": {Old: "*", New: nil}})

		if _, err := store.DeleteEntity(ctx, "widgets", id, true); err != nil {
			t.Fatal(err)
		}
		e = onlyEvent(t, sink)
		if e.Action != "delete" || e.EntityID != id {
			t.Fatalf("permanent delete event %+v", e)
		}
		wantChanges(t, e, map[string]admin.FieldChange{
			"name":          {Old: "gear", New: nil},
			"size":          {Old: 3, New: nil},
			"password_hash": {Old: admin.Redacted, New: nil},
			"api_token":     {Old: admin.Redacted, New: nil},
			"settings":      {Old: "*", New: nil},
		})
	})
}

func TestAuditObserverSkipsTablesWithoutHistory(t *testing.T) {
	captureDialects(t, func(t *testing.T, store *db.Store) {
		sink := &captureSink{}
		store.OnChange(admin.AuditObserver("app", sink))
		store.DisableHistory("sessions")
		ctx := context.Background()
		if _, err := store.SaveEntity(ctx, "sessions", db.Entity{"refresh": "secret"}); err != nil {
			t.Fatal(err)
		}
		if ev := sink.take(); len(ev) != 0 {
			t.Fatalf("a table without history was audited: %+v", ev)
		}
	})
}

func TestAuditObserverFollowsTransactions(t *testing.T) {
	captureDialects(t, func(t *testing.T, store *db.Store) {
		sink := &captureSink{}
		store.OnChange(admin.AuditObserver("app", sink))
		ctx := context.Background()

		boom := errors.New("boom")
		err := store.Tx(ctx, func(tx *db.Store) error {
			if _, err := tx.SaveEntity(ctx, "orders", db.Entity{"total": int64(5)}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx: %v", err)
		}
		if ev := sink.take(); len(ev) != 0 {
			t.Fatalf("a rolled-back transaction emitted %+v", ev)
		}

		err = store.Tx(ctx, func(tx *db.Store) error {
			for i := range 2 {
				if _, err := tx.SaveEntity(ctx, "orders", db.Entity{"total": int64(i)}); err != nil {
					return err
				}
			}
			if ev := sink.take(); len(ev) != 0 {
				t.Errorf("events before the commit: %+v", ev)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ev := sink.take()
		if len(ev) != 2 || ev[0].Action != "create" || ev[1].Action != "create" || ev[0].EntityID == ev[1].EntityID {
			t.Fatalf("a committed transaction of two creates emitted %+v", ev)
		}
	})
}

func TestAuditObserverConcurrentSavesEmitOnceEach(t *testing.T) {
	captureDialects(t, func(t *testing.T, store *db.Store) {
		sink := &captureSink{}
		store.OnChange(admin.AuditObserver("app", sink))
		ctx := context.Background()
		// The table exists first, so the saves race on rows, not on DDL.
		if _, err := store.SaveEntity(ctx, "counters", db.Entity{"n": int64(0)}); err != nil {
			t.Fatal(err)
		}
		sink.take()
		const n = 100
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				e, err := store.SaveEntity(ctx, "counters", db.Entity{"n": int64(i)})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = e["id"].(string)
			})
		}
		wg.Wait()
		seen := map[string]int{}
		eventIDs := map[string]bool{}
		for _, e := range sink.take() {
			seen[e.EntityID]++
			eventIDs[e.ID] = true
		}
		if len(seen) != n || len(eventIDs) != n {
			t.Fatalf("%d entities and %d event ids in the events, want %d each", len(seen), len(eventIDs), n)
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Fatalf("entity %s has %d events, want 1", id, seen[id])
			}
		}
	})
}

// A change whose values can still change after the observer returns (the
// maps of a JSON value, which a caller may share) is diffed at once even
// for a Recorder, which otherwise diffs in its flusher: the event says
// what was saved.
func TestAuditObserverDiffsSharedValuesAtOnce(t *testing.T) {
	sink := &captureSink{}
	rec := admin.NewRecorderTo(t, admin.RecorderOptions{FlushInterval: time.Hour}, func(batch []admin.Event) {
		for _, e := range batch {
			sink.Emit(e)
		}
	})
	observe := admin.AuditObserver("app", rec)
	settings := map[string]any{"theme": "dark"}
	observe(context.Background(), db.Change{Op: "update", Table: "widgets", ID: "42",
		Old: db.Entity{"id": "42", "name": "a", "settings": map[string]any{"theme": "light"}},
		New: db.Entity{"id": "42", "name": "b", "settings": settings}})
	observe(context.Background(), db.Change{Op: "update", Table: "widgets", ID: "43",
		Old: db.Entity{"id": "43", "name": "a", "size": int64(1)},
		New: db.Entity{"id": "43", "name": "b", "size": int64(2)}})
	settings["theme"] = "blue" // after the save, before the flusher runs (at Stop)
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev := sink.take()
	if len(ev) != 2 {
		t.Fatalf("%d events, want 2", len(ev))
	}
	wantChanges(t, ev[0], map[string]admin.FieldChange{"name": {Old: "a", New: "b"}, "settings": {Old: map[string]any{"theme": "light"}, New: map[string]any{"theme": "dark"}}})
	wantChanges(t, ev[1], map[string]admin.FieldChange{"name": {Old: "a", New: "b"}, "size": {Old: 1, New: 2}})
	for _, e := range ev {
		if u, err := uuid.Parse(e.ID); err != nil || u.Version() != 7 {
			t.Fatalf("event id %q is not a UUIDv7 (%v)", e.ID, err)
		}
	}
}
