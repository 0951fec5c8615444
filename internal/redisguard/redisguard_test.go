package redisguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/redisguard"
	"appkernel/internal/testenv"
)

func TestBreakerFailsFastWhileRedisIsDownAndRecovers(t *testing.T) {
	srv := testenv.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	redisguard.PrepareOptions(opt)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	var logs testenv.Buffer
	b := redisguard.Install(rdb, redisguard.Options{Interval: 100 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	defer b.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	// The first command after the kill finds the connection gone and opens
	// the breaker; every later one fails at once.
	t0 := time.Now()
	if err := rdb.Get(ctx, "k").Err(); !redisguard.Unavailable(err) {
		t.Fatalf("first command after the kill: %v, want an unavailable error", err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("the first command after the kill took %s; one refused dial should end it", d)
	}
	if !b.Open() {
		t.Fatal("breaker not open after a connection failure")
	}
	start := time.Now()
	for i := 0; i < 100; i++ {
		if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redisguard.ErrUnavailable) {
			t.Fatalf("command %d with the breaker open: %v, want ErrUnavailable", i, err)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("100 commands against a dead Redis took %s; the breaker should answer them at once", d)
	}
	pipeErr := func() error {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil })
		return err
	}()
	if !errors.Is(pipeErr, redisguard.ErrUnavailable) {
		t.Fatalf("pipeline with the breaker open: %v, want ErrUnavailable", pipeErr)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Set(ctx, "k", "again", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("commands still fail 5s after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.Open() {
		t.Error("breaker still open after a command succeeded")
	}
	out := logs.String()
	if n := strings.Count(out, "redis: unreachable"); n != 1 {
		t.Errorf("%d 'unreachable' lines for one outage, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "redis: reachable again"); n != 1 {
		t.Errorf("%d 'reachable again' lines, want 1:\n%s", n, out)
	}
}

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{fmt.Errorf("enqueue: %w", context.DeadlineExceeded), false},
		{errors.New("ERR wrong number of arguments"), false},
		{redisguard.ErrUnavailable, true},
		{fmt.Errorf("enqueue: %w", redisguard.ErrUnavailable), true},
		{io.EOF, true},
		{redis.ErrClosed, true},
		{redis.ErrPoolTimeout, true},
	} {
		if got := redisguard.Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A refused dial, as go-redis returns it.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); !redisguard.Unavailable(err) {
		t.Errorf("Unavailable(%v) = false for a refused connection", err)
	}
}
