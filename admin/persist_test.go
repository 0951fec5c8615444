package admin_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"appkernel/admin"
	"appkernel/db"
)

// A batch is stored once and counted once, however often it is persisted
// and whatever it repeats inside; the aggregates hold the day and the
// month of each event.
func TestPersistIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		var batch []admin.Event
		for i := 0; i < 30; i++ {
			batch = append(batch, requestEvent("u1", "w1"))
		}
		for i := 0; i < 10; i++ {
			batch = append(batch, requestEvent("u2", "w1"))
		}
		usage := admin.Event{ID: eventID(), Kind: admin.KindUsage, App: "svc", Time: day, UserID: "u1", WorkspaceID: "w1",
			Metrics: map[string]int64{"tokens": 1500, "images": 2}}
		audit := admin.Event{ID: eventID(), Kind: admin.KindAudit, App: "svc", Time: day, UserID: "u1", WorkspaceID: "w1",
			Action: "update", Entity: "widgets", EntityID: "wid1", RequestID: "req1",
			Changes: map[string]admin.FieldChange{"name": {Old: "a", New: "b"}}}
		batch = append(batch, usage, audit, batch[0], usage) // duplicates inside the batch
		for round := 0; round < 3; round++ {
			if err := admin.Persist(ctx, store, batch); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, store, admin.TableUsage); n != 41 {
			t.Errorf("usage_events has %d rows; want 41", n)
		}
		if n := count(t, store, admin.TableAudit); n != 1 {
			t.Errorf("audit_logs has %d rows; want 1", n)
		}
		for _, period := range []string{"2026-12-06", "2026-12"} {
			for _, c := range []struct {
				user, metric string
				want         int64
			}{{"u1", "requests", 30}, {"u2", "requests", 10}, {"u1", "tokens", 1500}, {"u1", "images", 2}} {
				if got := aggregate(t, store, "svc", "w1", c.user, c.metric, period); got != c.want {
					t.Errorf("%s %s %s = %d; want %d", c.user, c.metric, period, got, c.want)
				}
			}
		}
		var changes, reqID, action string
		if err := store.DB().QueryRow("SELECT changes, request_id, action FROM audit_logs").Scan(&changes, &reqID, &action); err != nil {
			t.Fatal(err)
		}
		var got map[string]admin.FieldChange
		if err := json.Unmarshal([]byte(changes), &got); err != nil || got["name"].Old != "a" || got["name"].New != "b" || reqID != "req1" || action != "update" {
			t.Errorf("audit row: changes %s (%v), request_id %q, action %q", changes, err, reqID, action)
		}
	})
}

// Writers persisting the same events at once (a claimed batch persisted
// by its first worker too) count each event once.
func TestPersistConcurrentSameEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		var batch []admin.Event
		for i := 0; i < 200; i++ {
			batch = append(batch, requestEvent("u1", "w1"))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Overlapping halves, in different orders.
				part := batch[w*40 : w*40+80]
				if w%2 == 1 {
					part = append([]admin.Event(nil), part...)
					for i, j := 0, len(part)-1; i < j; i, j = i+1, j-1 {
						part[i], part[j] = part[j], part[i]
					}
				}
				errs <- admin.Persist(ctx, store, part)
				errs <- admin.Persist(ctx, store, batch)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := aggregate(t, store, "svc", "w1", "u1", "requests", "2026-12"); got != 200 {
			t.Errorf("requests for the month = %d; want 200", got)
		}
		if n := count(t, store, admin.TableUsage); n != 200 {
			t.Errorf("usage_events has %d rows; want 200", n)
		}
	})
}
