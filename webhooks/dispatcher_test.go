package webhooks

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/db/dbtest"
)

func TestDeliveryIsSignedAndVerifies(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := openStore(t, dialect)
		rc := newReceiver(t, nil)
		wh, secret := mustCreate(t, store, "ws1", rc.srv.URL+"/hook")
		other, _ := mustCreate(t, store, "ws2", rc.srv.URL+"/other")
		startDispatcher(t, fastOptions(store))

		if err := Trigger(context.Background(), store, "ws1", "invoice.paid", map[string]any{"invoice": "in_1", "amount": 42}); err != nil {
			t.Fatal(err)
		}
		got := rc.waitFor(t, 1, 10*time.Second)[0]
		if !verify(secret, got.headers(), got.Body, time.Now()) {
			t.Fatalf("signature does not verify: %+v", got)
		}
		p := decodePayload(t, got.Body)
		data, _ := p.Data.(map[string]any)
		if p.Event != "invoice.paid" || p.Type != "invoice.paid" || data["invoice"] != "in_1" || time.Since(p.Timestamp) > time.Minute {
			t.Fatalf("payload %s", got.Body)
		}
		d := waitDelivery(t, store, "ws1", wh.ID, stateDelivered)
		if d.ID != got.ID || d.AttemptCount != 1 || len(d.Attempts) != 1 || d.Attempts[0].Status != 204 {
			t.Fatalf("delivery %+v (webhook-id %s)", d, got.ID)
		}
		if ds, _ := Deliveries(context.Background(), store, "ws2", other.ID, 10); len(ds) != 0 {
			t.Fatalf("another workspace's webhook got %v", ds)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("receiver got %d requests, want 1", n)
		}
	})
}

func TestRotatedSecretSignsBesideTheOldOne(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, nil)
	wh, old := mustCreate(t, store, "ws1", rc.srv.URL)
	fresh, err := RotateSecret(context.Background(), store, "ws1", wh.ID)
	if err != nil || fresh == old {
		t.Fatal(fresh, err)
	}
	startDispatcher(t, fastOptions(store))
	if err := Trigger(context.Background(), store, "ws1", "a.b", nil); err != nil {
		t.Fatal(err)
	}
	got := rc.waitFor(t, 1, 10*time.Second)[0]
	if len(strings.Fields(got.Signature)) != 2 || !verify(old, got.headers(), got.Body, time.Now()) || !verify(fresh, got.headers(), got.Body, time.Now()) {
		t.Fatalf("after rotation, signatures %q should verify with both secrets", got.Signature)
	}
	// After the overlap only the new secret signs.
	if _, err := store.SaveEntity(context.Background(), tableWebhooks, db.Entity{"id": wh.ID, "previous_secret_until": db.FormatTime(time.Now().Add(-time.Second))}); err != nil {
		t.Fatal(err)
	}
	if err := Trigger(context.Background(), store, "ws1", "a.b", nil); err != nil {
		t.Fatal(err)
	}
	got = rc.waitFor(t, 2, 10*time.Second)[1]
	if len(strings.Fields(got.Signature)) != 1 || verify(old, got.headers(), got.Body, time.Now()) || !verify(fresh, got.headers(), got.Body, time.Now()) {
		t.Fatalf("after the overlap, signature %q", got.Signature)
	}
}

func TestRetriesOnFailureThenGivesUp(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := openStore(t, dialect)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
		startDispatcher(t, fastOptions(store))
		if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
			t.Fatal(err)
		}
		d := waitDelivery(t, store, "ws1", wh.ID, stateFailed)
		got := rc.requests()
		if len(got) != 3 || d.AttemptCount != 3 || len(d.Attempts) != 3 {
			t.Fatalf("%d requests, delivery %+v; want 3 attempts (the schedule's length)", len(got), d)
		}
		for _, r := range got {
			if r.ID != d.ID {
				t.Fatalf("webhook-id changed across retries: %s vs %s", r.ID, d.ID)
			}
		}
		if d.Attempts[0].Status != 503 || d.Attempts[0].NextAttemptAt == nil || d.Attempts[2].NextAttemptAt != nil {
			t.Fatalf("attempts %+v", d.Attempts)
		}
		if hooks, _ := List(context.Background(), store, "ws1"); !hooks[0].Enabled {
			t.Fatal("a few failures disabled the endpoint")
		}
	})
}

func TestRetriesOnTimeoutAndConnectionError(t *testing.T) {
	store := openStore(t, "sqlite")
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			<-release // slower than the dispatcher's Timeout
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	slow, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	dead := newReceiver(t, nil)
	deadURL := dead.srv.URL
	dead.srv.Close()
	down, _ := mustCreate(t, store, "ws2", deadURL)
	opts := fastOptions(store)
	opts.Timeout = 300 * time.Millisecond
	opts.Lease = 2 * time.Second
	startDispatcher(t, opts)
	for _, ws := range []string{"ws1", "ws2"} {
		if err := Trigger(context.Background(), store, ws, "a.b", 1); err != nil {
			t.Fatal(err)
		}
	}
	d := waitDelivery(t, store, "ws1", slow.ID, stateDelivered)
	if d.AttemptCount != 2 || d.Attempts[0].Error == "" || d.Attempts[1].Status != 200 {
		t.Fatalf("timeout then success: %+v", d)
	}
	d = waitDelivery(t, store, "ws2", down.ID, stateFailed)
	if d.AttemptCount != 3 || !strings.Contains(d.Attempts[0].Error, "refused") {
		t.Fatalf("connection refused three times: %+v", d)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	startDispatcher(t, fastOptions(store))
	if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
		t.Fatal(err)
	}
	got := rc.waitFor(t, 2, 10*time.Second)
	if gap := got[1].At.Sub(got[0].At); gap < 900*time.Millisecond {
		t.Fatalf("second attempt %s after a 429 with Retry-After: 1", gap)
	}
	d := waitDelivery(t, store, "ws1", wh.ID, stateDelivered)
	if d.Attempts[0].Status != 429 {
		t.Fatalf("attempts %+v", d.Attempts)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Time
	}{
		{"", time.Time{}},
		{"soon", time.Time{}},
		{"120", now.Add(2 * time.Minute)},
		{now.Add(time.Hour).Format(http.TimeFormat), now.Add(time.Hour)},
		{"999999999", now.Add(24 * time.Hour)},
	} {
		if got := retryAfter(c.v, now, 24*time.Hour); !got.Equal(c.want) {
			t.Errorf("Retry-After %q: %v, want %v", c.v, got, c.want)
		}
	}
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := openStore(t, dialect)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusGone) })
		wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
		startDispatcher(t, fastOptions(store))
		if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
			t.Fatal(err)
		}
		d := waitDelivery(t, store, "ws1", wh.ID, stateFailed)
		got, err := Get(context.Background(), store, "ws1", wh.ID)
		if err != nil || got.Enabled || !strings.Contains(got.DisabledReason, "410") || d.AttemptCount != 1 {
			t.Fatalf("after 410: webhook %+v %v, delivery %+v", got, err, d)
		}
		if err := Trigger(context.Background(), store, "ws1", "a.b", 2); err != nil {
			t.Fatal(err)
		}
		if ds, _ := Deliveries(context.Background(), store, "ws1", wh.ID, 10); len(ds) != 1 {
			t.Fatalf("a disabled endpoint got a new delivery: %+v", ds)
		}
	})
}

func TestFiveDaysOfFailuresDisableTheEndpoint(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusInternalServerError) })
	wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	if _, err := store.SaveEntity(context.Background(), tableWebhooks, db.Entity{"id": wh.ID, "failing_since": db.FormatTime(time.Now().Add(-5*24*time.Hour - time.Minute))}); err != nil {
		t.Fatal(err)
	}
	startDispatcher(t, fastOptions(store))
	if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, store, "ws1", wh.ID, stateFailed)
	got, _ := Get(context.Background(), store, "ws1", wh.ID)
	if got.Enabled || !strings.Contains(got.DisabledReason, "120h") {
		t.Fatalf("after five days of failures: %+v", got)
	}
	// A success clears the failure streak.
	rc2 := newReceiver(t, nil)
	wh2, _ := mustCreate(t, store, "ws2", rc2.srv.URL)
	if _, err := store.SaveEntity(context.Background(), tableWebhooks, db.Entity{"id": wh2.ID, "failing_since": db.FormatTime(time.Now().Add(-4 * 24 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if err := Trigger(context.Background(), store, "ws2", "a.b", 1); err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, store, "ws2", wh2.ID, stateDelivered)
	e, _ := store.GetEntity(context.Background(), tableWebhooks, wh2.ID)
	if str(e, "failing_since") != "" {
		t.Fatalf("failing_since %q after a success", str(e, "failing_since"))
	}
}

func TestRedirectIsAFailureAndNotFollowed(t *testing.T) {
	store := openStore(t, "sqlite")
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, target.srv.URL, http.StatusTemporaryRedirect)
	})
	wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	startDispatcher(t, fastOptions(store))
	if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, store, "ws1", wh.ID, stateFailed)
	if d.AttemptCount != 1 || d.Attempts[0].Status != 307 || len(target.requests()) != 0 {
		t.Fatalf("redirect: %+v; target got %d", d, len(target.requests()))
	}
}

func TestRolledBackTxSendsNothing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := openStore(t, dialect)
		rc := newReceiver(t, nil)
		wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
		startDispatcher(t, fastOptions(store))
		ctx := context.Background()
		boom := errors.New("boom")
		err := store.Tx(ctx, func(tx *db.Store) error {
			if _, err := tx.SaveEntity(ctx, "orders", db.Entity{"total": 1}); err != nil {
				return err
			}
			if err := Trigger(ctx, tx, "ws1", "order.created", "rolled back"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		err = store.Tx(ctx, func(tx *db.Store) error {
			if _, err := tx.SaveEntity(ctx, "orders", db.Entity{"total": 2}); err != nil {
				return err
			}
			return Trigger(ctx, tx, "ws1", "order.created", "committed")
		})
		if err != nil {
			t.Fatal(err)
		}
		rc.waitFor(t, 1, 10*time.Second)
		time.Sleep(200 * time.Millisecond)
		got := rc.requests()
		if len(got) != 1 || decodePayload(t, got[0].Body).Data != "committed" {
			t.Fatalf("receiver got %d requests (first %s)", len(got), got[0].Body)
		}
		if ds, _ := Deliveries(ctx, store, "ws1", wh.ID, 10); len(ds) != 1 {
			t.Fatalf("deliveries %+v", ds)
		}
	})
}

// A dispatcher stopped while its request is on the wire leaves the
// delivery to the next one, which sends it with the same webhook-id.
func TestStopMidSendResendsWithTheSameID(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := openStore(t, dialect)
		inFlight := make(chan struct{})
		var once sync.Once
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				once.Do(func() { close(inFlight) })
				<-r.Context().Done() // hang until the dispatcher gives up
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
		d1, err := NewDispatcher(fastOptions(store))
		if err != nil {
			t.Fatal(err)
		}
		if err := d1.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
			t.Fatal(err)
		}
		<-inFlight
		if err := d1.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		startDispatcher(t, fastOptions(store))
		got := rc.waitFor(t, 2, 10*time.Second)
		d := waitDelivery(t, store, "ws1", wh.ID, stateDelivered)
		if got[0].ID != got[1].ID || got[1].ID != d.ID || d.AttemptCount != 1 {
			t.Fatalf("resent with ids %s, %s; delivery %+v", got[0].ID, got[1].ID, d)
		}
	})
}

// A dispatcher that died holding a lease: the delivery waits for the lease
// to run out, then another sends it.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, nil)
	wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(700 * time.Millisecond)
	if _, err := store.DB().Exec("UPDATE webhook_deliveries SET lease_owner = 'dead', lease_until = ?", db.FormatTime(until)); err != nil {
		t.Fatal(err)
	}
	startDispatcher(t, fastOptions(store))
	got := rc.waitFor(t, 1, 10*time.Second)
	if got[0].At.Before(until) {
		t.Fatalf("sent at %v while another dispatcher held the lease until %v", got[0].At, until)
	}
	waitDelivery(t, store, "ws1", wh.ID, stateDelivered)
}

// Two dispatchers (two instances: two stores on one database) share the
// deliveries: each is sent once, never by both at once.
func TestTwoDispatchersNeverSendOneDeliveryTwice(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		u := storeURL(t, dialect)
		a, b := openURL(t, u), openURL(t, u)
		var mu sync.Mutex
		inFlight, seen := map[string]bool{}, map[string]int{}
		var overlap atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			id := r.Header.Get("webhook-id")
			mu.Lock()
			if inFlight[id] {
				overlap.Add(1)
			}
			inFlight[id] = true
			seen[id]++
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			delete(inFlight, id)
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		})
		mustCreate(t, a, "ws1", rc.srv.URL+"/1")
		mustCreate(t, a, "ws1", rc.srv.URL+"/2")
		optsA, optsB := fastOptions(a), fastOptions(b)
		optsA.BatchSize, optsB.BatchSize = 7, 7
		startDispatcher(t, optsA)
		startDispatcher(t, optsB)
		const events = 100
		var wg sync.WaitGroup
		for i := range events {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				if err := Trigger(context.Background(), s, "ws1", "n."+strconv.Itoa(i), i); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		rc.waitFor(t, 2*events, 30*time.Second)
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2*events || overlap.Load() != 0 {
			t.Fatalf("%d distinct deliveries (want %d), %d sent twice at once", len(seen), 2*events, overlap.Load())
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("delivery %s sent %d times", id, n)
			}
		}
	})
}

func TestDeletedWebhookDropsItsDeliveries(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, nil)
	wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
		t.Fatal(err)
	}
	if err := Delete(context.Background(), store, "ws1", wh.ID); err != nil {
		t.Fatal(err)
	}
	if err := Delete(context.Background(), store, "ws1", wh.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	startDispatcher(t, fastOptions(store))
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := store.CountEntities(context.Background(), tableDeliveries, "[state] = ?", stateFailed)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery of a deleted webhook is not dropped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(rc.requests()) != 0 {
		t.Fatal("a deleted webhook was called")
	}
}

func TestPruneDeletesOldFinishedDeliveries(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, nil)
	wh, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	startDispatcher(t, fastOptions(store))
	for range 2 {
		if err := Trigger(context.Background(), store, "ws1", "a.b", 1); err != nil {
			t.Fatal(err)
		}
	}
	rc.waitFor(t, 2, 10*time.Second)
	waitDelivery(t, store, "ws1", wh.ID, stateDelivered)
	ds, _ := Deliveries(context.Background(), store, "ws1", wh.ID, 10)
	if _, err := store.DB().Exec("UPDATE webhook_deliveries SET updated_at = ? WHERE id = ?", db.FormatTime(time.Now().Add(-31*24*time.Hour)), ds[1].ID); err != nil {
		t.Fatal(err)
	}
	opts := fastOptions(store)
	d, err := NewDispatcher(opts)
	if err != nil {
		t.Fatal(err)
	}
	d.prune(context.Background())
	left, _ := Deliveries(context.Background(), store, "ws1", wh.ID, 10)
	if len(left) != 1 || left[0].ID != ds[0].ID {
		t.Fatalf("after prune: %+v", left)
	}
}

func TestStartStopRaces(t *testing.T) {
	store := openStore(t, "sqlite")
	d, err := NewDispatcher(fastOptions(store))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil {
		t.Fatal("a second Start succeeded")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = Trigger(context.Background(), store, "ws1", "a.b", 1)
		}()
	}
	wg.Wait()
	if _, err := NewDispatcher(DispatcherOptions{Store: store, Timeout: time.Minute, Lease: time.Minute}); err == nil {
		t.Fatal("a lease no longer than the timeout is accepted")
	}
	if _, err := NewDispatcher(DispatcherOptions{}); err == nil {
		t.Fatal("a dispatcher without a store is accepted")
	}
}

// A Trigger in the dispatcher's process wakes it once committed: the
// delivery goes out long before the next poll.
func TestTriggerWakesTheDispatcherAfterCommit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		store := openStore(t, dialect)
		rc := newReceiver(t, nil)
		mustCreate(t, store, "ws1", rc.srv.URL)
		opts := fastOptions(store)
		opts.PollInterval = time.Hour
		startDispatcher(t, opts)
		time.Sleep(100 * time.Millisecond) // past the first look
		ctx := context.Background()
		err := store.Tx(ctx, func(tx *db.Store) error {
			if err := Trigger(ctx, tx, "ws1", "a.b", "in tx"); err != nil {
				return err
			}
			time.Sleep(200 * time.Millisecond) // not committed yet: nothing to send
			if n := len(rc.requests()); n != 0 {
				t.Errorf("%d requests before the commit", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rc.waitFor(t, 1, 10*time.Second)
		if err := Trigger(ctx, store, "ws1", "a.b", "no tx"); err != nil {
			t.Fatal(err)
		}
		rc.waitFor(t, 2, 10*time.Second)
	})
}
