package main

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkEnqueue measures Client.Enqueue, one job per call, for both
// systems in the same run: one serial producer, then 64 concurrent
// producers (b.RunParallel with 64 goroutines in total). Each system gets
// a fresh namespace, a fresh client with its library's default connection
// pool (go-redis: 10 per GOMAXPROCS on both sides), and the same 35-byte
// payload. go test runs all -count samples of one sub-benchmark before the
// next, so run one sample per process in a loop to make the systems
// alternate under the same machine load:
//
//	for i in 1 2 3 4 5 6 7 8; do go test -run '^$' -bench Enqueue -count 1 -benchtime 2s -benchmem .; done > enqueue.bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /system enqueue.bench.txt
func BenchmarkEnqueue(b *testing.B) {
	url := os.Getenv("BENCH_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/9"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	if err := admin.Ping(context.Background()).Err(); err != nil {
		b.Skipf("no Redis at %s: %v", url, err)
	}
	payload := []byte(`{"user":"u_123","document":"d_456"}`)
	systems := []func() system{
		func() system { return newAppkernel(opt) },
		func() system { return newAsynq(opt, admin) },
	}
	for _, producers := range []int{1, 64} {
		for _, mk := range systems {
			s := mk()
			name := "producers=" + strconv.Itoa(producers) + "/system=" + s.Name()
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				if producers == 1 {
					for b.Loop() {
						if err := s.Enqueue(ctx, payload); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				// RunParallel starts parallelism × GOMAXPROCS goroutines.
				b.SetParallelism((producers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Enqueue(ctx, payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			s.Cleanup()
		}
	}
}
