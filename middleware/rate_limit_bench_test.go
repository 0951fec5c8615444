package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"appkernel/middleware"
)

// BenchmarkRateLimit measures what RateLimit adds to a request: the same
// handler served bare and behind the middleware, in the same run, with the
// Redis calls per request (a lone client's busy key is leased: about one
// call per 64 requests once warm; before leases, one per request). The limit is high enough that every request
// is allowed, which is the path every request pays.
func BenchmarkRateLimit(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	serve := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest(http.MethodGet, "/widgets", nil)
		req.RemoteAddr = "203.0.113.9:4242"
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Fatalf("status %d", rec.Code)
			}
		}
	}

	b.Run("stack=bare", func(b *testing.B) { serve(b, handler) })

	b.Run("stack=ratelimit", func(b *testing.B) {
		rdb, prefix := rateLimitRedis(b)
		calls := &rlCalls{}
		rdb.AddHook(calls)
		mw, err := middleware.RateLimit(middleware.RateLimitOptions{
			Redis: rdb, Prefix: prefix, Limit: 1 << 30, Window: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
		serve(b, mw(handler))
		b.ReportMetric(float64(calls.n.Load())/float64(b.N), "redis-calls/op")
	})

	// One key (one user) from 50 concurrent clients, as bench/ratelimit.sh
	// drives the example with wrk -c50 and one token.
	b.Run("stack=ratelimit-onekey-c50", func(b *testing.B) {
		rdb, prefix := rateLimitRedis(b)
		calls := &rlCalls{}
		rdb.AddHook(calls)
		mw, err := middleware.RateLimit(middleware.RateLimitOptions{
			Redis: rdb, Prefix: prefix, Limit: 1 << 30, Window: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
		h := mw(handler)
		b.SetParallelism(25)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodGet, "/widgets", nil)
			req.RemoteAddr = "203.0.113.9:4242"
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Errorf("status %d", rec.Code)
					return
				}
			}
		})
		b.ReportMetric(float64(calls.n.Load())/float64(b.N), "redis-calls/op")
	})

	// For reference: one plain Redis round trip (PING) on the same client,
	// the floor under any Redis-backed limiter.
	b.Run("stack=redis-ping", func(b *testing.B) {
		rdb, _ := rateLimitRedis(b)
		ctx := b.Context()
		for b.Loop() {
			if err := rdb.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
