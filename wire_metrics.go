package appkernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"appkernel/cache"
	"appkernel/db"
	"appkernel/internal/metrics"
)

// wireMetrics builds the kernel's collectors. They count only with
// METRICS_ADDR set (Config.MetricsAddr), when the hooks of the other parts
// report to them and ListenAndServe (and RunWorker) serve them.
func (k *Kernel) wireMetrics(context.Context) error {
	k.metrics = metrics.New()
	if k.cfg.MetricsAddr == "" {
		k.feature("metrics", "off (METRICS_ADDR not set)")
		return nil
	}
	k.metricsOn = true
	k.feature("metrics", "on (/metrics on "+k.cfg.MetricsAddr+", served with the service)")
	return nil
}

// Metrics returns the kernel's Prometheus registry, served on
// Config.MetricsAddr. An app may register its own collectors on it; with
// metrics off it is served nowhere.
func (k *Kernel) Metrics() *prometheus.Registry { return k.metrics.Registry() }

// activeMetrics returns the collectors when metrics are on, else nil (on
// which every hook does nothing; the kernel passes no hook at all then).
func (k *Kernel) activeMetrics() *metrics.Metrics {
	if !k.metricsOn {
		return nil
	}
	return k.metrics
}

// storeOpHook is db.Config.OnOp: metrics and spans of store operations,
// nil when both are off.
func (k *Kernel) storeOpHook() func(context.Context, db.Op) {
	m, t := k.activeMetrics(), k.tracing
	switch {
	case m != nil && t != nil:
		return func(ctx context.Context, op db.Op) { m.StoreOp(ctx, op); t.StoreOp(ctx, op) }
	case m != nil:
		return m.StoreOp
	case t != nil:
		return t.StoreOp
	}
	return nil
}

// observeStore registers the pool statistics of the app database.
func (k *Kernel) observeStore(s *db.Store) {
	if m := k.activeMetrics(); m != nil {
		m.DBPool("app", s.DB())
	}
}

// rateLimitHook is middleware.RateLimitOptions.OnDecision.
func (k *Kernel) rateLimitHook() func(string) {
	if m := k.activeMetrics(); m != nil {
		return m.RateLimitDecision
	}
	return nil
}

// loginThrottleHook is auth.Config.OnThrottled.
func (k *Kernel) loginThrottleHook() func(string) {
	if m := k.activeMetrics(); m != nil {
		return m.LoginThrottled
	}
	return nil
}

// observeCache counts the hits and misses of c.
func (k *Kernel) observeCache(c cache.Cache) cache.Cache {
	m := k.activeMetrics()
	if m == nil {
		return c
	}
	return &countingCache{Cache: c, m: m}
}

// countingCache counts the reads of the cache it wraps. Its own
// SingleFlight keeps GetOrLoad's one-loader-per-key through the wrapper.
type countingCache struct {
	cache.Cache
	cache.SingleFlight
	m *metrics.Metrics
}

func (c *countingCache) Get(ctx context.Context, key string, dst any) (bool, error) {
	ok, err := c.Cache.Get(ctx, key, dst)
	if err == nil {
		c.m.CacheRead(ok)
	}
	return ok, err
}

// observeJobs registers the depth of the job queues, read from Redis at
// each scrape.
func (k *Kernel) observeJobs() {
	if m := k.activeMetrics(); m != nil && k.redis != nil {
		m.QueueDepths(k.jobs.QueueDepths)
	}
}

// startMetrics serves /metrics on Config.MetricsAddr until the returned
// stop is called; without metrics it does nothing.
func (k *Kernel) startMetrics() (stop func(context.Context) error, err error) {
	if !k.metricsOn {
		return func(context.Context) error { return nil }, nil
	}
	ln, err := net.Listen("tcp", k.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("appkernel: metrics: listen on %s (METRICS_ADDR): %w", k.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", k.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	k.metricsAddr.Store(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	k.log.Info("metrics listening", "addr", ln.Addr().String())
	return func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, srv.Close())
		}
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}, nil
}
