package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"appkernel/internal/testenv"

	"github.com/redis/go-redis/v9"
)

// setupRedis returns a Broker on the test Redis under a fresh key prefix
// whose keys are deleted when the test ends.
func setupRedis(t *testing.T) (*Broker, *redis.Client) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	r := make([]byte, 6)
	_, _ = rand.Read(r)
	prefix := "aktest:broker:" + hex.EncodeToString(r) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return New(rdb, prefix), rdb
}

// A run whose lease expired is over, even when the job it ran starts
// afresh under the same id (a WithID enqueue of a finished job, RetryDead)
// and its new run is again attempt 1: the old run's renewals and outcomes
// must not touch the new run.
func TestStaleRunCannotRenewOrCompleteNewRun(t *testing.T) {
	t.Parallel()
	for _, reuse := range []string{"WithID", "RetryDead"} {
		t.Run(reuse, func(t *testing.T) {
			t.Parallel()
			b, rdb := setupRedis(t)
			ctx := context.Background()
			const q = "q"
			k := b.Keys(q)
			id := "job-" + reuse
			enqueue := func() {
				t.Helper()
				res, err := b.Enqueue(ctx, &Message{ID: id, CallerID: true, Queue: q, Name: "t", Payload: []byte("{}")})
				if err != nil || res.InUse || res.Duplicate {
					t.Fatalf("enqueue: %+v, %v", res, err)
				}
			}
			fetch := func(lease time.Duration) Fetched {
				t.Helper()
				got, err := b.Fetch(ctx, q, 10, lease)
				if err != nil || len(got) != 1 || got[0].ID != id {
					t.Fatalf("fetch: %+v, %v", got, err)
				}
				return got[0]
			}
			complete := func(op string, f Fetched, data string) int {
				t.Helper()
				n, err := b.Complete(ctx, q, []Outcome{{Op: op, ID: f.ID, Run: f.Run, Data: data, MaxAttempts: 3}}, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			extend := func(f Fetched, lease time.Duration) {
				t.Helper()
				if err := b.Extend(ctx, q, []RunRef{{ID: f.ID, Run: f.Run}}, lease); err != nil {
					t.Fatal(err)
				}
			}
			leaseOf := func() float64 {
				t.Helper()
				d, err := rdb.ZScore(ctx, k.Active, id).Result()
				if err != nil {
					t.Fatalf("the job holds no lease: %v", err)
				}
				return d
			}

			enqueue()
			stale := fetch(100 * time.Millisecond)
			time.Sleep(150 * time.Millisecond)
			if _, recovered, _, err := b.Maintain(ctx, q, 100); err != nil || recovered != 1 {
				t.Fatalf("maintain: recovered %d, %v", recovered, err)
			}
			second := fetch(time.Minute)
			if reuse == "WithID" {
				if complete(OpSucceeded, second, `"second"`) != 1 {
					t.Fatal("the second run could not record its success")
				}
				enqueue()
			} else {
				if complete(OpDead, second, "failed") != 1 {
					t.Fatal("the second run could not record its failure")
				}
				if ok, _, err := b.RetryDead(ctx, q, id); !ok || err != nil {
					t.Fatalf("RetryDead: %v, %v", ok, err)
				}
			}
			cur := fetch(time.Minute)
			if cur.Attempt != 1 || stale.Attempt != 1 {
				t.Fatalf("attempts %d (stale) and %d (new run), want 1 and 1", stale.Attempt, cur.Attempt)
			}

			before := leaseOf()
			extend(stale, time.Hour)
			if after := leaseOf(); after != before {
				t.Fatalf("the stale run's renewal moved the new run's lease by %.0f ms", after-before)
			}
			if n := complete(OpSucceeded, stale, `"stale"`); n != 0 {
				t.Fatalf("the stale run's outcome was recorded (%d)", n)
			}
			h, err := rdb.HGetAll(ctx, k.Job+id).Result()
			if err != nil || h["state"] != "running" || h["attempt"] != "1" || h["result"] != "" {
				t.Fatalf("after the stale outcome the job is %v (%v), want running attempt 1", h, err)
			}

			extend(cur, time.Hour)
			if after := leaseOf(); after-before < float64((time.Hour - 2*time.Minute).Milliseconds()) {
				t.Fatalf("the current run's renewal moved its lease by only %.0f ms", after-before)
			}
			if n := complete(OpSucceeded, cur, `"new"`); n != 1 {
				t.Fatalf("the current run's outcome was refused (%d)", n)
			}
			if r, _ := rdb.HGet(ctx, k.Job+id, "result").Result(); r != `"new"` {
				t.Fatalf("result %q, want the current run's", r)
			}
		})
	}
}
