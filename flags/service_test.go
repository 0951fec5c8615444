package flags_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/flags"
	"appkernel/internal/redisguard"
	"appkernel/internal/testenv"
)

// A change on one instance reaches another on the same Redis within a
// short bound, long before their TTL.
func TestChangeReachesOtherInstanceThroughRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storeURL(t, "sqlite")
	rdb, prefix := redisClient(t, testenv.RedisURL(t))
	cfg := func() flags.Config {
		// Each instance has its own store on the shared database, and a
		// TTL far beyond the bound: only the notice can explain a quick
		// change.
		return flags.Config{Store: open(t, url), Redis: rdb, Prefix: prefix, TTL: time.Hour, Resync: time.Hour}
	}
	a, b := newService(t, cfg()), newService(t, cfg())
	waitSubscribed(t, rdb, prefix+"flags", 2)

	u := flags.For{UserID: "u1"}
	if err := a.Set(ctx, "dark.mode", flags.Flag{Enabled: true, Users: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	if !a.Enabled("dark.mode", u) {
		t.Fatal("the instance that set the flag does not see it when Set returns")
	}
	took := eventually(t, time.Second, "instance b sees the flag set on a", func() bool { return b.Enabled("dark.mode", u) })
	t.Logf("seen by the other instance after %s", took)

	if err := b.Delete(ctx, "dark.mode"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "instance a sees the flag deleted on b", func() bool { return !a.Enabled("dark.mode", u) })
}

// waitSubscribed waits until n clients listen on channel.
func waitSubscribed(t *testing.T, rdb *redis.Client, channel string, n int64) {
	t.Helper()
	eventually(t, 10*time.Second, "subscriptions on "+channel, func() bool {
		m, err := rdb.PubSubNumSub(context.Background(), channel).Result()
		return err == nil && m[channel] >= n
	})
}

// Without Redis a change made elsewhere is seen within the TTL.
func TestChangeSeenWithinTTLWithoutRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storeURL(t, "sqlite")
	const ttl = 200 * time.Millisecond
	svc := newService(t, flags.Config{Store: open(t, url), TTL: ttl})
	writer := open(t, url) // another instance, writing without a Service
	if err := flags.Set(ctx, writer, "search.v2", flags.Flag{Enabled: true, RolloutPercent: 100}); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, ttl+time.Second, "the change within the TTL", func() bool { return svc.Enabled("search.v2", flags.For{}) })
	if took > ttl+300*time.Millisecond {
		t.Fatalf("seen after %s, TTL %s", took, ttl)
	}
}

// While Redis is down a change is seen within the TTL; when Redis returns
// the Service subscribes again and changes are quick again.
func TestRedisOutageFallsBackToTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	// Guarded as the kernel's client is.
	redisguard.PrepareOptions(opt)
	rdb := redis.NewClient(opt)
	b := redisguard.Install(rdb, redisguard.Options{})
	t.Cleanup(func() { b.Close(); rdb.Close() })

	url := storeURL(t, "sqlite")
	const ttl = 300 * time.Millisecond
	cfg := func() flags.Config {
		return flags.Config{Store: open(t, url), Redis: rdb, Prefix: "outage:", TTL: ttl, Resync: time.Hour}
	}
	a, c := newService(t, cfg()), newService(t, cfg())
	waitSubscribed(t, rdb, "outage:flags", 2)

	srv.Kill()
	if err := a.Set(ctx, "f", flags.Flag{Enabled: true, RolloutPercent: 100}); err != nil {
		t.Fatalf("Set while Redis is down: %v", err)
	}
	eventually(t, ttl+2*time.Second, "the change while Redis is down", func() bool { return c.Enabled("f", flags.For{}) })

	srv.Restart()
	waitSubscribed(t, rdb, "outage:flags", 2)
	// Let the TTL tick pass so that only a notice explains what follows.
	if err := a.Set(ctx, "f", flags.Flag{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ttl+2*time.Second, "the change after Redis returned", func() bool { return !c.Enabled("f", flags.For{}) })
}

// Concurrent Sets and Enabled calls are safe (run with -race) and Enabled
// always answers from one consistent set of flags.
func TestConcurrentSetAndEnabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := newService(t, flags.Config{Store: open(t, storeURL(t, "sqlite")), TTL: 50 * time.Millisecond})
	done := make(chan struct{})
	var writers, readers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			name := "f" + strconv.Itoa(w)
			for i := range 20 {
				if err := svc.Set(ctx, name, flags.Flag{Enabled: i%2 == 0, RolloutPercent: 100}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				_ = svc.Enabled("f0", flags.For{UserID: "u"})
				_ = svc.Evaluate(flags.For{UserID: "u"})
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
	// The last Set of each writer (i = 19) disabled its flag; Set has
	// reloaded this Service before returning.
	if svc.Enabled("f0", flags.For{UserID: "u"}) || svc.Enabled("f1", flags.For{UserID: "u"}) {
		t.Fatal("the last Set disabled both flags")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := flags.New(context.Background(), flags.Config{}); err == nil {
		t.Fatal("New without a Store")
	}
	if _, err := flags.New(context.Background(), flags.Config{Store: open(t, storeURL(t, "sqlite")), TTL: -time.Second}); err == nil {
		t.Fatal("New with a negative TTL")
	}
}

// A kernel without a database has no Service: its flags are all off.
func TestNilServiceIsAllOff(t *testing.T) {
	t.Parallel()
	var svc *flags.Service
	if svc.Enabled("anything", flags.For{UserID: "u"}) || len(svc.Evaluate(flags.For{})) != 0 {
		t.Fatal("a nil Service has a flag on")
	}
}
