package appkernel_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/jobs"
	"appkernel/kerneltest"
)

// Two services on one Redis database stay apart: each service's jobs run
// once, in that service, on the first attempt; rate-limit buckets, login
// throttles and cache entries are each service's own. Every key lives
// under the service's name.
func TestTwoServicesShareOneRedisDatabase(t *testing.T) {
	url := testenv.RedisURL(t)
	run := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	type service struct {
		name string
		tk   *kerneltest.Kernel
		runs atomic.Int32
	}
	start := func(name, task string) *service {
		s := &service{name: name + "_" + run}
		s.tk = kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
			c.Name = s.name
			c.RedisURL = url
			c.RateLimitRequests = 2
			c.Setup = func(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry) error {
				tasks.Task(task, func(ctx context.Context, job *jobs.Job) (any, error) {
					s.runs.Add(1)
					return nil, nil
				})
				return nil
			}
		}})
		return s
	}
	a, b := start("billing", "send_invoice"), start("mailer", "send_mail")
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	ctx := context.Background()
	keysOf := func(s *service, pattern string) []string {
		keys, err := rdb.Keys(ctx, s.name+":"+pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	t.Cleanup(func() {
		for _, s := range []*service{a, b} {
			if keys := keysOf(s, "*"); len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		}
		rdb.Close()
	})

	// Jobs: each service enqueues its own task; both embedded workers
	// serve the default queue of the same Redis database.
	var ids [2][]string
	for i, s := range []*service{a, b} {
		task := map[int]string{0: "send_invoice", 1: "send_mail"}[i]
		for range 5 {
			info, err := s.tk.Jobs().Enqueue(ctx, task, nil)
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = append(ids[i], info.ID)
		}
	}
	for i, s := range []*service{a, b} {
		for _, id := range ids[i] {
			deadline := time.Now().Add(3 * time.Second) // well under the 5 s a worker without the task would hold it back
			for {
				st, err := s.tk.Jobs().Status(ctx, id)
				if err != nil {
					t.Fatalf("%s: job %s: %v", s.name, id, err)
				}
				if st.State == jobs.StateSucceeded {
					if st.Attempt != 1 || st.LastError != "" {
						t.Fatalf("%s: job %s succeeded after %d attempts, last error %q", s.name, id, st.Attempt, st.LastError)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: job %s is %s: %+v", s.name, id, st.State, st)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if a.runs.Load() != 5 || b.runs.Load() != 5 {
		t.Fatalf("runs: %s %d, %s %d; want 5 each", a.name, a.runs.Load(), b.name, b.runs.Load())
	}
	for _, s := range []*service{a, b} {
		if logs := s.tk.Logs.String(); strings.Contains(logs, "no handler") {
			t.Fatalf("%s's worker saw the other service's jobs:\n%s", s.name, logs)
		}
	}

	// Rate limiting: a's budget (2 per minute) is spent; b's is untouched.
	for range 2 {
		a.tk.Client().Get(t, "/nothing-here").Expect(t, 404)
	}
	a.tk.Client().Get(t, "/nothing-here").Expect(t, 429)
	if res := b.tk.Client().Get(t, "/nothing-here").Expect(t, 404); res.Header.Get("RateLimit-Remaining") != "1" {
		t.Fatalf("%s's first request: RateLimit-Remaining %q, want 1", b.name, res.Header.Get("RateLimit-Remaining"))
	}

	// The login throttle counts under the service's namespace.
	b.tk.Client().Post(t, "/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong password"}).Expect(t, 401)

	// Cache: the same key is two entries.
	if err := a.tk.Cache().Set(ctx, "greeting", "from billing", time.Minute); err != nil {
		t.Fatal(err)
	}
	var got string
	if ok, err := b.tk.Cache().Get(ctx, "greeting", &got); ok || err != nil {
		t.Fatalf("%s reads %s's cache entry: %q %v %v", b.name, a.name, got, ok, err)
	}
	if err := b.tk.Cache().Set(ctx, "greeting", "from mailer", time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.tk.Cache().Get(ctx, "greeting", &got); !ok || err != nil || got != "from billing" {
		t.Fatalf("%s's cache entry after %s's Set: %q %v %v", a.name, b.name, got, ok, err)
	}

	for _, want := range []struct {
		s       *service
		pattern string
	}{{a, "{default}:*"}, {b, "{default}:*"}, {a, "rl:*"}, {b, "rl:*"}, {a, "cache:greeting"}, {b, "cache:greeting"}, {b, "auth:*"}} {
		if len(keysOf(want.s, want.pattern)) == 0 {
			t.Errorf("no key %s:%s", want.s.name, want.pattern)
		}
	}
}
