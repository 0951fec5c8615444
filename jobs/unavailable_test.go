package jobs_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
	"appkernel/jobs"
	"appkernel/middleware"
)

// A Redis that goes away makes the client's calls fail with ErrUnavailable
// (503 jobs_unavailable over HTTP), not with an unclassified error (500);
// when it is back the same client works again.
func TestClientCallsWhileRedisIsDown(t *testing.T) {
	srv := testenv.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.DialerRetries = 1 // one refused dial per retry, not five 100 ms apart
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	c := jobs.NewClient(rdb)
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, "t", nil); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	_, err = c.Enqueue(ctx, "t", nil)
	if !errors.Is(err, jobs.ErrUnavailable) {
		t.Fatalf("Enqueue with Redis down: %v, want an error wrapping ErrUnavailable", err)
	}
	if status, code, _ := middleware.Classify(err); status != http.StatusServiceUnavailable || code != "jobs_unavailable" {
		t.Errorf("Classify(Enqueue error) = %d %q, want 503 jobs_unavailable", status, code)
	}
	if _, err := c.EnqueueMany(ctx, jobs.EnqueueRequest{Name: "t"}); !errors.Is(err, jobs.ErrUnavailable) {
		t.Errorf("EnqueueMany with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := c.Status(ctx, "some-id"); !errors.Is(err, jobs.ErrUnavailable) {
		t.Errorf("Status with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := c.ListDead(ctx, "", 0, 10); !errors.Is(err, jobs.ErrUnavailable) {
		t.Errorf("ListDead with Redis down: %v, want ErrUnavailable", err)
	}

	srv.Restart()
	if _, err := c.Enqueue(ctx, "t", nil); err != nil {
		t.Fatalf("Enqueue after Redis came back: %v", err)
	}
}
