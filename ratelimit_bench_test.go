//go:build unix

package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// BenchmarkKernelRateLimit is what rate limiting costs a request through
// the whole kernel stack under concurrent clients (RunParallel, 50
// goroutines on two cores, like wrk -c50): the same route on a kernel
// without the limiter and on one with it (a limit never reached), in one
// run. Besides wall time it reports the CPU each request costs this
// process (cpu-ns/op, getrusage) and Redis (redis-cpu-ns/op, from INFO
// cpu; the test Redis must serve only this benchmark), whose sum is what a
// CPU-bound machine pays per request. Compare with benchstat:
//
//	APPKERNEL_TEST_REDIS_URL=redis://127.0.0.1:6379/13 \
//	  go test -run '^$' -bench KernelRateLimit -count 5 . | tee /tmp/rl.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /limiter /tmp/rl.txt
func BenchmarkKernelRateLimit(b *testing.B) {
	redisURL := testenv.RedisURLOnDB(b, testenv.RedisDBKernel)
	for _, tc := range []struct {
		name   string
		redis  string
		oneKey bool
	}{
		// Without Redis the kernel has no limiter; nothing else on this
		// route uses Redis, so the two stacks differ by the limiter alone.
		{"limiter=off", "", false},
		{"limiter=on", redisURL, false},
		// Every client the same IP, so one bucket, as bench/ratelimit.sh
		// drives one user's token with wrk -c50.
		{"limiter=on-onekey", redisURL, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := appkernel.DefaultConfig()
			cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(b.TempDir(), "app.db"))
			cfg.DisableDevAutostart = true
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
			calls := &callCounter{}
			if k.Redis() != nil {
				k.Redis().AddHook(calls)
			}
			rdbCPU := redisCPU(b, k)
			cpu := testenv.ProcessCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each client its own IP, so its own bucket.
				addr := "192.0.2." + strconv.Itoa(int(client.Add(1))%250) + ":4000"
				if tc.oneKey {
					addr = "192.0.2.1:4000"
				}
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
			b.StopTimer()
			b.ReportMetric(float64(testenv.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(redisCPU(b, k)-rdbCPU)/float64(b.N), "redis-cpu-ns/op")
			b.ReportMetric(float64(calls.n.Load())/float64(b.N), "redis-calls/op")
			b.ReportMetric(float64(calls.keys.Load())/float64(b.N), "redis-keys/op")
		})
	}
}

// redisCPU is the CPU time the kernel's Redis server has used, in
// nanoseconds (0 without Redis).
func redisCPU(b *testing.B, k *appkernel.Kernel) int64 {
	if k.Redis() == nil {
		return 0
	}
	info, err := k.Redis().Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_sys" || name == "used_cpu_user") {
			f, _ := strconv.ParseFloat(val, 64)
			total += f
		}
	}
	return int64(total * 1e9)
}

// callCounter counts the commands and pipelines a Redis client sends, and
// the keys its script calls decide (the limiter's work in Redis).
type callCounter struct{ n, keys atomic.Int64 }

func (c *callCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *callCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		c.keys.Add(scriptKeys(cmd))
		return next(ctx, cmd)
	}
}
func (c *callCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		for _, cmd := range cmds {
			c.keys.Add(scriptKeys(cmd))
		}
		return next(ctx, cmds)
	}
}

// scriptKeys is the number of keys of an EVAL or EVALSHA, else 0.
func scriptKeys(cmd redis.Cmder) int64 {
	args := cmd.Args()
	if name := cmd.Name(); (name == "evalsha" || name == "eval") && len(args) > 2 {
		if n, ok := args[2].(int); ok {
			return int64(n)
		}
	}
	return 0
}
