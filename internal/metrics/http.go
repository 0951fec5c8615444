package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"appkernel/middleware"
)

// Label values of requests outside the fixed sets.
const (
	unmatchedRoute = "unmatched" // no route matched (404 from the router)
	otherValue     = "other"     // past a cap, or not one of the known words
)

// maxLabelValues caps the distinct routes, tables and tasks a metric
// keeps; past it they share otherValue. Routes are the app's own patterns,
// so the cap only matters for a program that makes them up.
const maxLabelValues = 1000

var methods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

// methodIndex is the index of m in methods, or len(methods) ("other"): a
// client can send any method, and each would otherwise be a new series.
func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return len(methods)
}

func methodLabel(i int) string {
	if i < len(methods) {
		return methods[i]
	}
	return "OTHER"
}

var statusClasses = [...]string{"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass is the index in statusClasses of status; 0 ("aborted") is a
// handler that panicked before sending anything.
func statusClass(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge

	// routes maps a route pattern to its series; read without a lock,
	// replaced whole (copy on write) when a route is seen first.
	routes atomic.Pointer[map[string]*routeSeries]
	mu     sync.Mutex
}

// routeSeries holds the histogram children of one route, made on first
// use, so that a request finds its child without hashing label values.
type routeSeries struct {
	route string
	obs   [len(methods) + 1][len(statusClasses)]atomic.Pointer[prometheus.Observer]
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	h := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern, method and status class; its _count counts requests.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	empty := map[string]*routeSeries{}
	h.routes.Store(&empty)
	reg.MustRegister(h.duration, h.inFlight)
	return h
}

// Middleware measures every request below the kernel's Logger (see
// middleware.StackOptions.Observe): the route pattern is read after the
// router ran, the status from the access log's recorder.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	h := m.http
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.inFlight.Inc()
		start := time.Now()
		served := false
		defer func() {
			if !served { // a panic going up: count what was sent
				h.done(r, start)
			}
		}()
		next.ServeHTTP(w, r)
		served = true
		h.done(r, start)
	})
}

func (h *httpMetrics) done(r *http.Request, start time.Time) {
	d := time.Since(start)
	h.inFlight.Dec()
	status, ok := middleware.ResponseStatus(r.Context())
	if !ok {
		status = http.StatusOK
	}
	route := ""
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		route = rctx.RoutePattern()
	}
	h.observer(route, methodIndex(r.Method), statusClass(status)).Observe(d.Seconds())
}

func (h *httpMetrics) observer(route string, method, class int) prometheus.Observer {
	if route == "" {
		route = unmatchedRoute
	}
	rs := (*h.routes.Load())[route]
	if rs == nil {
		rs = h.addRoute(route)
	}
	slot := &rs.obs[method][class]
	if o := slot.Load(); o != nil {
		return *o
	}
	o := h.duration.WithLabelValues(rs.route, methodLabel(method), statusClasses[class])
	slot.CompareAndSwap(nil, &o)
	return o
}

func (h *httpMetrics) addRoute(route string) *routeSeries {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.routes.Load()
	if rs := old[route]; rs != nil {
		return rs
	}
	if len(old) >= maxLabelValues {
		if rs := old[otherValue]; rs != nil {
			return rs
		}
		route = otherValue
	}
	rs := &routeSeries{route: route}
	next := make(map[string]*routeSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[route] = rs
	h.routes.Store(&next)
	return rs
}
