package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"appkernel/db"
	"appkernel/internal/metrics"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is the kernel's stack with the metrics middleware in Observe.
func stack(t *testing.T, m *metrics.Metrics, routes func(chi.Router)) http.Handler {
	t.Helper()
	mws, err := middleware.Stack(middleware.StackOptions{Observe: []func(http.Handler) http.Handler{m.Middleware}})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.NotFound(middleware.NotFound)
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Use(mws...)
	routes(r)
	return middleware.Root(r)
}

// A client cannot grow the label sets: unknown methods are OTHER, unmatched
// paths one "unmatched" route, a panic is counted as the 500 it became.
func TestHTTPLabelsAreBounded(t *testing.T) {
	m := metrics.New()
	h := stack(t, m, func(r chi.Router) {
		r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	for i := range 50 {
		for _, req := range []*http.Request{
			httptest.NewRequest("GET", fmt.Sprintf("/items/%d", i), nil),
			httptest.NewRequest("GET", fmt.Sprintf("/random/%d", i), nil),
			httptest.NewRequest(fmt.Sprintf("M%d", i), "/items/1", nil),
		} {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/boom", nil))
	want := `
# HELP appkernel_http_requests_in_flight HTTP requests being served now.
# TYPE appkernel_http_requests_in_flight gauge
appkernel_http_requests_in_flight 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "appkernel_http_requests_in_flight"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.Registry(), "appkernel_http_request_duration_seconds"); n != 4 {
		t.Errorf("%d request series, want 4 (items 2xx, unmatched 4xx, OTHER, boom 5xx)", n)
	}
	out, err := testutil.CollectAndFormat(m.Registry(), expfmt.TypeTextPlain, "appkernel_http_request_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`appkernel_http_request_duration_seconds_count{method="GET",route="/items/{id}",status="2xx"} 50`,
		`appkernel_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"} 50`,
		`appkernel_http_request_duration_seconds_count{method="GET",route="/boom",status="5xx"} 1`,
	} {
		if !strings.Contains(string(out), w) {
			t.Errorf("missing %s in\n%s", w, out)
		}
	}
}

// Store operations: by operation and table, a missing entity is no error,
// and past the cap tables share "other".
func TestStoreOps(t *testing.T) {
	m := metrics.New()
	ctx := context.Background()
	m.StoreOp(ctx, db.Op{Name: db.OpGet, Table: "widgets", Err: fmt.Errorf("x: %w", db.ErrNotFound)})
	m.StoreOp(ctx, db.Op{Name: db.OpSave, Table: "widgets", Err: fmt.Errorf("boom")})
	for i := range 1100 {
		m.StoreOp(ctx, db.Op{Name: db.OpFind, Table: fmt.Sprintf("t%d", i)})
	}
	if n := testutil.CollectAndCount(m.Registry(), "appkernel_db_operation_errors_total"); n != 1 {
		t.Errorf("%d error series, want 1 (the save)", n)
	}
	if n := testutil.CollectAndCount(m.Registry(), "appkernel_db_operation_duration_seconds"); n > 1002 {
		t.Errorf("%d duration series: the table cap does not hold", n)
	}
}

// A nil *Metrics (metrics off) takes every report and does nothing.
func TestNilMetricsIgnoresReports(t *testing.T) {
	var m *metrics.Metrics
	m.StoreOp(context.Background(), db.Op{})
	m.RateLimitDecision("allowed")
	m.CacheRead(true)
	m.LoginThrottled("ip")
	m.WebhookDelivery("delivered")
	m.AdminEvents(func() float64 { return 0 }, func() float64 { return 0 })
	m.QueueDepths(nil)
	m.DBPool("app", nil)
	if h := m.JobHooks(); h.Run != nil || h.Outcome != nil {
		t.Fatal("nil Metrics gave job hooks")
	}
}

// The hooks for the parts built later count what they are told.
func TestLaterPartsHooks(t *testing.T) {
	m := metrics.New()
	m.WebhookDelivery("delivered")
	m.WebhookDelivery("failed")
	m.AdminEvents(func() float64 { return 7 }, func() float64 { return 3 })
	m.LoginThrottled("ip")
	m.LoginThrottled("whatever")
	want := `
# HELP appkernel_admin_events_buffered Audit and usage events waiting in the in-process buffer.
# TYPE appkernel_admin_events_buffered gauge
appkernel_admin_events_buffered 7
# HELP appkernel_admin_events_dropped_total Audit and usage events dropped because the in-process buffer was full.
# TYPE appkernel_admin_events_dropped_total counter
appkernel_admin_events_dropped_total 3
# HELP appkernel_auth_login_throttled_total Sign-in attempts refused by the login throttle before the password was checked (429).
# TYPE appkernel_auth_login_throttled_total counter
appkernel_auth_login_throttled_total{reason="account"} 1
appkernel_auth_login_throttled_total{reason="ip"} 1
# HELP appkernel_webhook_deliveries_total Webhook delivery attempts, by outcome.
# TYPE appkernel_webhook_deliveries_total counter
appkernel_webhook_deliveries_total{outcome="delivered"} 1
appkernel_webhook_deliveries_total{outcome="failed"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"appkernel_admin_events_buffered", "appkernel_admin_events_dropped_total", "appkernel_auth_login_throttled_total", "appkernel_webhook_deliveries_total"); err != nil {
		t.Error(err)
	}
}
