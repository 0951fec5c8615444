package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// BenchmarkKernelRateLimit is what rate limiting costs a request through
// the whole kernel stack under concurrent clients (RunParallel, 50
// goroutines on two cores, like wrk -c50): the same route on a kernel
// without the limiter and on one with it (a limit never reached), in one
// run. Compare the two with benchstat:
//
//	APPKERNEL_TEST_REDIS_URL=redis://127.0.0.1:6379/13 \
//	  go test -run '^$' -bench KernelRateLimit -count 5 . | tee /tmp/rl.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /limiter /tmp/rl.txt
func BenchmarkKernelRateLimit(b *testing.B) {
	redisURL := testenv.RedisURLOnDB(b, testenv.RedisDBKernel)
	for _, tc := range []struct {
		name  string
		redis string
	}{
		// Without Redis the kernel has no limiter; nothing else on this
		// route uses Redis, so the two stacks differ by the limiter alone.
		{"limiter=off", ""},
		{"limiter=on", redisURL},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := appkernel.DefaultConfig()
			cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(b.TempDir(), "app.db"))
			cfg.DevAutostart = false
			cfg.RedisURL = tc.redis
			cfg.RateLimitRequests = 1 << 30
			cfg.Logger = slog.New(middleware.NewJSONHandler(io.Discard, nil))
			k, err := appkernel.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			k.Router().Get("/bench", func(w http.ResponseWriter, r *http.Request) {
				middleware.WriteJSON(w, http.StatusOK, map[string]any{"widgets": []string{"a", "b"}, "limit": 20})
			})
			var client atomic.Int32
			b.SetParallelism(25)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each client its own IP, so its own bucket.
				addr := "192.0.2." + strconv.Itoa(int(client.Add(1))%250) + ":4000"
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, "/bench?limit=20", nil)
					req.RemoteAddr = addr
					rec := httptest.NewRecorder()
					k.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d", rec.Code)
						return
					}
				}
			})
		})
	}
}
