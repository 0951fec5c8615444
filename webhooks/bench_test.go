package webhooks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/db"
)

// BenchmarkDispatch measures the dispatcher end to end: b.N deliveries
// already in the database (written before the timer starts) are claimed,
// signed, sent to a local receiver over HTTP and recorded. It reports
// deliveries/s.
func BenchmarkDispatch(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			store := openStore(b, dialect)
			var n atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				if n.Add(1) == target {
					close(done)
				}
			}))
			defer rc.Close()
			wh, _ := mustCreate(b, store, "ws1", rc.URL)
			hook, err := store.GetEntity(context.Background(), tableWebhooks, wh.ID)
			if err != nil {
				b.Fatal(err)
			}
			for left := b.N; left > 0; left -= 500 {
				err := store.Tx(context.Background(), func(tx *db.Store) error {
					for range min(left, 500) {
						if err := enqueue(context.Background(), tx, []db.Entity{hook}, "bench.event", map[string]int{"n": 1}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			opts := fastOptions(store)
			b.ResetTimer()
			start := time.Now()
			d := startDispatcher(b, opts)
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("sent %d of %d", n.Load(), b.N)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := d.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkDispatchPlainHTTP is the floor: the same POSTs to the same kind
// of receiver, 64 at a time, with no database, signing or bookkeeping.
func BenchmarkDispatchPlainHTTP(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rc.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(`{"event":"bench.event","type":"bench.event","data":{"n":1},"timestamp":"2026-01-01T00:00:00Z"}`)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for range b.N {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := client.Post(rc.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			res.Body.Close()
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
