package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"appkernel/internal/testenv"
	"appkernel/jobs"
)

// Durations in the worker's log lines are whole milliseconds under *_ms
// keys, like the access line's duration_ms, never raw nanoseconds.
func TestWorkerLogsDurationsInMilliseconds(t *testing.T) {
	b := setup(t)
	var logs testenv.Buffer
	opts := b.fastOptions()
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	opts.Backoff = func(int) time.Duration { return 1500 * time.Millisecond }
	b.reg.Task("flaky", func(context.Context, *jobs.Job) (any, error) { return nil, errors.New("try again") }, jobs.MaxAttempts(2))
	b.start(t, opts)
	info, err := b.client.Enqueue(context.Background(), "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(t, info.ID, jobs.StateRetrying, 5*time.Second)

	want := map[string]struct {
		key string
		ms  float64
	}{
		"jobs worker started":    {"lease_ms", 1000},
		"job failed; will retry": {"retry_in_ms", 1500},
	}
	found := 0
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		w, ok := want[line["msg"].(string)]
		if !ok {
			continue
		}
		found++
		if line[w.key] != w.ms {
			t.Errorf("%q: %s = %v, want %v (milliseconds): %s", line["msg"], w.key, line[w.key], w.ms, l)
		}
		for _, raw := range []string{"lease", "retry_in"} {
			if _, ok := line[raw]; ok {
				t.Errorf("%q still logs %s as a raw duration: %s", line["msg"], raw, l)
			}
		}
	}
	if found < 2 {
		t.Fatalf("lines missing; log:\n%s", logs.String())
	}
}
