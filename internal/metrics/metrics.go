// Package metrics holds the kernel's Prometheus collectors on the kernel's
// own registry, and the hooks the kernel's parts report to: HTTP requests
// (Middleware), store operations (StoreOp), jobs (JobStarted, JobOutcome,
// queue depths), the rate limiter, the cache, the login throttle, and the
// parts built later (webhook deliveries, the admin event buffer).
//
// Every label has a bounded set of values: route patterns (not paths),
// method and status classes, table and task names under a cap, fixed
// outcome words. No user id, job id or raw path is ever a label.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace starts the name of every metric of the kernel.
const Namespace = "appkernel"

// Metrics is the kernel's set of collectors. Build it with New; a nil
// *Metrics is valid and every hook on it does nothing.
type Metrics struct {
	reg *prometheus.Registry

	http  *httpMetrics
	store *storeMetrics
	jobs  *jobMetrics

	rateLimit    *prometheus.CounterVec
	rlAllowed    prometheus.Counter
	rlLimited    prometheus.Counter
	rlUnchecked  prometheus.Counter
	cacheHits    prometheus.Counter
	cacheMisses  prometheus.Counter
	loginRefused *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
}

// New returns the kernel's collectors registered on a new registry, with
// the Go runtime and process collectors beside them.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.http = newHTTPMetrics(reg)
	m.store = newStoreMetrics(reg)
	m.jobs = newJobMetrics(reg)

	m.rateLimit = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "ratelimit_requests_total",
		Help: "Requests the rate limiter decided on, by decision: allowed, limited, or unchecked (Redis failed; let through).",
	}, []string{"decision"})
	m.rlAllowed = m.rateLimit.WithLabelValues("allowed")
	m.rlLimited = m.rateLimit.WithLabelValues("limited")
	m.rlUnchecked = m.rateLimit.WithLabelValues("unchecked")

	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "cache_requests_total",
		Help: "Cache reads, by result: hit or miss.",
	}, []string{"result"})
	m.cacheHits = cache.WithLabelValues("hit")
	m.cacheMisses = cache.WithLabelValues("miss")

	m.loginRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "auth_login_throttled_total",
		Help: "Sign-in attempts refused by the login throttle before the password was checked (429).",
	}, []string{"reason"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "webhook_deliveries_total",
		Help: "Webhook delivery attempts, by outcome.",
	}, []string{"outcome"})
	reg.MustRegister(m.rateLimit, cache, m.loginRefused, m.webhooks)
	return m
}

// Registry returns the registry every collector is on; an app may register
// its own collectors there.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, Timeout: 10 * time.Second})
}

// RateLimitDecision counts a decision of the rate limiter (see
// middleware.RateLimitOptions.OnDecision).
func (m *Metrics) RateLimitDecision(decision string) {
	if m == nil {
		return
	}
	switch decision {
	case "allowed":
		m.rlAllowed.Inc()
	case "limited":
		m.rlLimited.Inc()
	default:
		m.rlUnchecked.Inc()
	}
}

// CacheRead counts a cache read that answered (hit or miss).
func (m *Metrics) CacheRead(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheHits.Inc()
	} else {
		m.cacheMisses.Inc()
	}
}

// LoginThrottled counts a sign-in refused by the login throttle; reason is
// "account" (too many failures for the account) or "ip" (too many
// attempts from the address).
func (m *Metrics) LoginThrottled(reason string) {
	if m == nil {
		return
	}
	if reason != "ip" {
		reason = "account"
	}
	m.loginRefused.WithLabelValues(reason).Inc()
}

// WebhookDelivery counts one webhook delivery attempt. outcome must come
// from a fixed set of words (e.g. "delivered", "failed", "dead"), never a
// URL or an id.
func (m *Metrics) WebhookDelivery(outcome string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(outcome).Inc()
}

// AdminEvents registers the admin plane's in-process event buffer: its
// depth and the events it dropped because it was full, both read at each
// scrape. Call it once.
func (m *Metrics) AdminEvents(buffered, dropped func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "admin_events_buffered",
		Help: "Audit and usage events waiting in the in-process buffer.",
	}, buffered), prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: "admin_events_dropped_total",
		Help: "Audit and usage events dropped because the in-process buffer was full.",
	}, dropped))
}
