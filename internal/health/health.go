// Package health serves the kernel's liveness and readiness endpoints.
package health

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"appkernel/middleware"
)

// Check is one dependency that /readyz pings.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
	// Degrades marks a dependency the service degrades without instead of
	// stopping (Redis): while it fails, /readyz still answers 200, with
	// status "degraded" naming it, so that a load balancer keeps sending
	// the requests that do not need it.
	Degrades bool
}

// MaxCheckTime bounds each readiness check; a check still running then
// is reported as "timeout".
const MaxCheckTime = 2 * time.Second

var (
	okBody   = []byte("{\"status\":\"ok\"}\n")
	jsonType = []string{"application/json"}
	nosniff  = []string{"nosniff"}
	noStore  = []string{"no-store"}
)

// Live answers 200 {"status":"ok"} while the process runs.
func Live(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
}

// CheckResult is the outcome of one check in the /readyz body. It carries
// no error text: /readyz answers anyone, and a driver's message can tell
// more than a client should know; the error goes to the log at WARN.
type CheckResult struct {
	Status     string  `json:"status"` // "ok", "error" or "timeout"
	DurationMS float64 `json:"duration_ms"`
}

// ReadyInterval is how long one round of readiness checks answers every
// probe: however many probes arrive, the checks run at most once per
// interval, so a probe flood during an outage cannot load the database.
const ReadyInterval = time.Second

// Ready returns the /readyz handler: it runs every check concurrently, each
// bounded by MaxCheckTime, and answers 200 with each result, or 503 in the
// kernel's error shape naming the failing checks with the results beside it.
// A failing check marked Degrades leaves the answer 200, with status
// "degraded" and the list of such checks.
//
// The checks run at most once per ReadyInterval: probes arriving while
// they run wait for them and share their result, and probes arriving
// within ReadyInterval after they finished get that result. A check is
// logged when its state changes, not per probe: at WARN, with its error,
// when it starts failing (or fails differently: error or timeout), at
// INFO when it recovers. Lines go through middleware.LoggerFrom of the
// probe that ran the checks.
func Ready(checks []Check) http.HandlerFunc {
	return newReadiness(checks, MaxCheckTime, ReadyInterval).serve
}

// readiness shares one round of checks among the probes of an interval.
type readiness struct {
	checks   []Check
	limit    time.Duration // bound of each check
	interval time.Duration // how long a finished round answers probes

	mu    sync.Mutex
	round *round            // the latest round, running or finished
	state map[string]string // each check's last status, for logging changes only
}

// round is one run of every check. done is closed when it has finished;
// the other fields are written before that and only read after it.
type round struct {
	done     chan struct{}
	finished time.Time
	results  map[string]CheckResult
	failing  []string // sorted: failing checks the service cannot serve without
	degraded []string // sorted: failing checks of Degrades
}

func newReadiness(checks []Check, limit, interval time.Duration) *readiness {
	return &readiness{checks: checks, limit: limit, interval: interval, state: map[string]string{}}
}

func (rd *readiness) serve(w http.ResponseWriter, r *http.Request) {
	rn := rd.current(r.Context())
	select {
	case <-rn.done:
	case <-r.Context().Done():
		return // the prober left; the round goes on for the others
	}
	if len(rn.failing) == 0 {
		if len(rn.degraded) > 0 {
			middleware.WriteJSON(w, http.StatusOK, map[string]any{"status": "degraded", "degraded": rn.degraded, "checks": rn.results})
			return
		}
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": rn.results})
		return
	}
	id, _ := middleware.RequestIDFrom(r.Context())
	msg := "not ready: " + strings.Join(rn.failing, ", ") + " failing"
	middleware.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
		"error":  middleware.ErrorDetail{Code: "not_ready", Message: msg, RequestID: id},
		"checks": rn.results,
	})
}

// current returns the round that answers a probe now: the running one, a
// finished one younger than the interval, or a new one it starts.
func (rd *readiness) current(ctx context.Context) *round {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rn := rd.round; rn != nil {
		select {
		case <-rn.done:
			if time.Since(rn.finished) < rd.interval {
				return rn
			}
		default:
			return rn // running: share it
		}
	}
	rn := &round{done: make(chan struct{})}
	rd.round = rn
	// The round outlives the probe that started it (others wait for it),
	// so it keeps the probe's values (logger, request_id) but not its
	// cancellation; each check is bounded by rd.limit.
	go rd.run(context.WithoutCancel(ctx), rn)
	return rn
}

func (rd *readiness) run(ctx context.Context, rn *round) {
	type outcome struct {
		res CheckResult
		err error
	}
	outcomes := make([]outcome, len(rd.checks))
	var wg sync.WaitGroup
	for i, c := range rd.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, rd.limit)
			defer cancel()
			start := time.Now()
			err := c.Ping(cctx)
			res := CheckResult{Status: "ok", DurationMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				res.Status = "error"
				if errors.Is(cctx.Err(), context.DeadlineExceeded) {
					res.Status = "timeout"
				}
			}
			outcomes[i] = outcome{res, err}
		}()
	}
	wg.Wait()

	rn.results = make(map[string]CheckResult, len(rd.checks))
	log := middleware.LoggerFrom(ctx)
	rd.mu.Lock()
	for i, c := range rd.checks {
		o := outcomes[i]
		rn.results[c.Name] = o.res
		switch {
		case o.err != nil && c.Degrades:
			rn.degraded = append(rn.degraded, c.Name)
		case o.err != nil:
			rn.failing = append(rn.failing, c.Name)
		}
		prev, seen := rd.state[c.Name]
		rd.state[c.Name] = o.res.Status
		switch {
		case prev == o.res.Status || !seen && o.err == nil:
		case o.err != nil:
			log.LogAttrs(ctx, slog.LevelWarn, "readiness check failed",
				slog.String("check", c.Name), slog.String("status", o.res.Status), slog.String("error", o.err.Error()))
		default:
			log.LogAttrs(ctx, slog.LevelInfo, "readiness check recovered", slog.String("check", c.Name))
		}
	}
	sort.Strings(rn.failing)
	sort.Strings(rn.degraded)
	rn.finished = time.Now()
	close(rn.done)
	rd.mu.Unlock()
}
