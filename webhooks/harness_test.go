package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/db/dbtest"
)

// storeURL returns the URL of a fresh database of dialect.
func storeURL(t testing.TB, dialect string) string {
	t.Helper()
	return dbtest.Fresh(t, dialect)
}

func openURL(t testing.TB, u string) *db.Store {
	t.Helper()
	s, err := db.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := Init(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func openStore(t testing.TB, dialect string) *db.Store {
	return openURL(t, storeURL(t, dialect))
}

// fastOptions are dispatcher options for tests: local endpoints allowed,
// quick polls, a short schedule.
func fastOptions(store *db.Store) DispatcherOptions {
	return DispatcherOptions{
		Store:        store,
		Logger:       slog.New(slog.DiscardHandler),
		AllowPrivate: true,
		PollInterval: 20 * time.Millisecond,
		Timeout:      2 * time.Second,
		Schedule:     []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond},
	}
}

// startDispatcher starts a dispatcher and stops it when the test ends.
func startDispatcher(t testing.TB, opts DispatcherOptions) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return d
}

// received is one request a receiver got.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
	At                       time.Time
}

// receiver is a local endpoint over real HTTP; answer decides each
// response (nil: 204).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(w http.ResponseWriter, r *http.Request, n int)
	notify chan struct{}
}

func newReceiver(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{answer: answer, notify: make(chan struct{}, 1<<16)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{
			ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
			Signature: r.Header.Get("webhook-signature"), Body: b, At: time.Now(),
		})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(w, r, n)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		rc.notify <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits until the receiver has n requests.
func (rc *receiver) waitFor(t testing.TB, n int, within time.Duration) []received {
	t.Helper()
	deadline := time.After(within)
	for {
		if got := rc.requests(); len(got) >= n {
			return got
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("receiver got %d requests in %s, want %d", len(rc.requests()), within, n)
		}
	}
}

// waitDelivery waits until the delivery of webhook wid reaches state and
// returns it.
func waitDelivery(t testing.TB, store *db.Store, workspaceID, wid, state string) Delivery {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ds, err := Deliveries(context.Background(), store, workspaceID, wid, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 && ds[0].State == state {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries of %s: %+v, want the latest %s", wid, ds, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verify is a receiver's check of a Standard Webhooks request, written
// from the spec and independent of the package's signing code: it accepts
// when one of the space-separated v1 signatures is the HMAC-SHA256, keyed
// with the base64 after whsec_, of "id.timestamp.body", and the timestamp
// is within 5 minutes.
func verify(secret string, headers http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	ts, err := strconv.ParseInt(headers.Get("webhook-timestamp"), 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, headers.Get("webhook-id")+"."+headers.Get("webhook-timestamp")+".")
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(headers.Get("webhook-signature")) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (r received) headers() http.Header {
	h := http.Header{}
	h.Set("webhook-id", r.ID)
	h.Set("webhook-timestamp", r.Timestamp)
	h.Set("webhook-signature", r.Signature)
	return h
}

func mustCreate(t testing.TB, store *db.Store, ws, url string) (Webhook, string) {
	t.Helper()
	wh, secret, err := Create(context.Background(), store, ws, url, Options{Description: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return wh, secret
}

func decodePayload(t testing.TB, b []byte) Payload {
	t.Helper()
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	return p
}

func isInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
