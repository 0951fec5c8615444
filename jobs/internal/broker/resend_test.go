package broker

import (
	"context"
	"testing"
	"time"
)

// go-redis sends a command again when its reply was lost (a connection cut
// after Redis ran it). Running an enqueue script a second time with the
// same arguments must answer as the first run did and store nothing more:
// no second copy in the pending list, no "in use" or "duplicate" for the
// job the first run stored.
func TestEnqueueScriptsAnswerAResendAsTheFirstRun(t *testing.T) {
	t.Parallel()
	b, rdb := setupRedis(t)
	ctx := context.Background()
	const q = "q"
	k := b.Keys(q)
	if err := b.Register(ctx, q); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Message{
		"generated id": {ID: "gen-1"},
		"caller's id":  {ID: "mine-1", CallerID: true},
		"unique key":   {ID: "uniq-1", UniqueKey: "k1", UniqueTTL: time.Minute},
		"delayed":      {ID: "later-1", Delay: time.Hour},
		"run at":       {ID: "at-1", RunAt: time.Now().Add(time.Hour).UnixMilli()},
	} {
		m.Queue, m.Name, m.Payload = q, "t", []byte("{}")
		script, keys, args := b.enqueueCmd(m)
		first, err := script.Run(ctx, rdb, keys, args...).Result()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := script.Run(ctx, rdb, keys, args...).Result()
		if err != nil {
			t.Fatalf("%s, resent: %v", name, err)
		}
		e1, err1 := parseEnqueued(first)
		e2, err2 := parseEnqueued(again)
		if err1 != nil || err2 != nil || e2 != e1 || e1.InUse || e1.Duplicate {
			t.Errorf("%s: first %+v %v, resent %+v %v; want the same success", name, e1, err1, e2, err2)
		}
	}
	if n := rdb.LLen(ctx, k.Pending).Val(); n != 3 {
		t.Errorf("pending list holds %d ids, want 3 (each job once)", n)
	}
	if n := rdb.ZCard(ctx, k.Scheduled).Val(); n != 2 {
		t.Errorf("scheduled set holds %d ids, want 2", n)
	}
	// A new call (another token) for a job that has not finished is still
	// refused.
	m := &Message{ID: "mine-1", CallerID: true, Queue: q, Name: "t", Payload: []byte("{}")}
	if res, err := b.Enqueue(ctx, m); err != nil || !res.InUse {
		t.Errorf("second enqueue of mine-1: %+v, %v; want in use", res, err)
	}
	// WithDelay counts from Redis's clock: the job is due about an hour
	// after the server's now, whatever this process's clock says.
	runat, _ := rdb.ZScore(ctx, k.Scheduled, "later-1").Result()
	tm, _ := rdb.Time(ctx).Result()
	if d := time.UnixMilli(int64(runat)).Sub(tm); d < 59*time.Minute || d > time.Hour {
		t.Errorf("delayed job due in %v by Redis's clock, want about 1h", d)
	}
}
