package main

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkEnqueue measures one serial producer's Enqueue round trip for
// both systems, for benchstat:
//
//	go test -run '^$' -bench Enqueue -count 6 > enq.txt && go run golang.org/x/perf/cmd/benchstat@latest -col /system enq.txt
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
	for _, mk := range []func() system{
		func() system { return newAppkernel(opt) },
		func() system { return newAsynq(opt, admin) },
	} {
		s := mk()
		b.Run("system="+s.Name(), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if err := s.Enqueue(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Cleanup()
	}
}
