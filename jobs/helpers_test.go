package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"appkernel/internal/testenv"
	"appkernel/jobs"

	"github.com/redis/go-redis/v9"
)

// bundle is what setup gives a test: a Redis connection, a namespace of
// its own and a client and registry using it.
type bundle struct {
	rdb    *redis.Client
	prefix string
	name   string // CLIENT SETNAME of rdb's connections
	reg    *jobs.Registry
	client *jobs.Client
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setup connects to the test Redis under a fresh key prefix and deletes
// that prefix's keys (and only those) when the test ends.
func setup(t *testing.T) *bundle {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	id := randHex(6)
	opt.ClientName = "appkernel-jobs-test-" + id
	rdb := redis.NewClient(opt)
	prefix := "aktest:jobs:" + id + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			rdb.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
		_ = rdb.Close()
	})
	reg := jobs.NewRegistry()
	return &bundle{
		rdb: rdb, prefix: prefix, name: opt.ClientName, reg: reg,
		client: jobs.NewClient(rdb, jobs.WithPrefix(prefix), jobs.WithRegistry(reg)),
	}
}

// fastOptions are worker options with short leases and backoffs.
func (b *bundle) fastOptions() jobs.WorkerOptions {
	return jobs.WorkerOptions{
		Prefix:           b.prefix,
		Concurrency:      10,
		Lease:            time.Second,
		RecoveryInterval: 200 * time.Millisecond,
		ShutdownTimeout:  2 * time.Second,
		Backoff:          func(int) time.Duration { return 20 * time.Millisecond },
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// start starts a worker and stops it (with a grace of 5s) at cleanup.
func (b *bundle) start(t *testing.T, opts jobs.WorkerOptions) *jobs.Worker {
	t.Helper()
	w := jobs.NewWorker(b.rdb, b.reg, opts)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return w
}

// waitState polls Status until the job reaches state.
func (b *bundle) waitState(t *testing.T, id string, state jobs.State, timeout time.Duration) jobs.Info {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last jobs.Info
	for time.Now().Before(deadline) {
		in, err := b.client.Status(context.Background(), id)
		if err == nil {
			last = in
			if in.State == state {
				return in
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s did not reach %s within %s; last seen %+v", id, state, timeout, last)
	return last
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
