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

// Ready returns the /readyz handler: it runs every check concurrently, each
// bounded by MaxCheckTime, and answers 200 with each result, or 503 in the
// kernel's error shape naming the failing checks with the results beside it.
// Each failure is logged at WARN, with the check's name and error, through
// middleware.LoggerFrom.
func Ready(checks []Check) http.HandlerFunc { return ready(checks, MaxCheckTime) }

// ready is Ready with each check bounded by limit.
func ready(checks []Check, limit time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		results := make(map[string]CheckResult, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failing []string
		for _, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(r.Context(), limit)
				defer cancel()
				start := time.Now()
				err := c.Ping(ctx)
				res := CheckResult{Status: "ok", DurationMS: float64(time.Since(start).Microseconds()) / 1000}
				if err != nil {
					res.Status = "error"
					if errors.Is(ctx.Err(), context.DeadlineExceeded) {
						res.Status = "timeout"
					}
					middleware.LoggerFrom(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
						slog.String("check", c.Name), slog.String("status", res.Status), slog.String("error", err.Error()))
				}
				mu.Lock()
				results[c.Name] = res
				if err != nil {
					failing = append(failing, c.Name)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(failing) == 0 {
			middleware.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": results})
			return
		}
		id, _ := middleware.RequestIDFrom(r.Context())
		sort.Strings(failing)
		msg := "not ready: " + strings.Join(failing, ", ") + " failing"
		middleware.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error":  middleware.ErrorDetail{Code: "not_ready", Message: msg, RequestID: id},
			"checks": results,
		})
	}
}
