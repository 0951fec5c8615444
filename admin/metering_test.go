package admin_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/middleware"
)

// meteredServer serves r behind the kernel's stack with a test
// authentication ("Authorization: Test <user>/<workspace>/<key>") and
// Metering after it, as the kernel orders them.
func meteredServer(t *testing.T, sink admin.Sink, routes func(r chi.Router)) *httptest.Server {
	t.Helper()
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test "); ok {
				parts := strings.Split(v, "/")
				ctx := auth.WithUser(r.Context(), auth.User{ID: parts[0], WorkspaceID: parts[1]})
				if parts[2] != "" {
					ctx = auth.WithPrincipal(ctx, auth.Principal{Type: auth.PrincipalAPIKey, UserID: parts[0], WorkspaceID: parts[1], KeyID: parts[2]})
				}
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
		})
	}
	stack, err := middleware.Stack(middleware.StackOptions{
		Logger: slog.New(slog.DiscardHandler),
		After:  []func(http.Handler) http.Handler{authenticate, admin.Metering("widget_service", sink)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.NotFound(middleware.NotFound)
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Use(stack...)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {})
	routes(r)
	srv := httptest.NewServer(middleware.Root(r))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, srv *httptest.Server, method, path, authz string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", "Test "+authz)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestMeteringRecordsEachRequest(t *testing.T) {
	t.Parallel()
	sink := &captureSink{}
	srv := meteredServer(t, sink, func(r chi.Router) {
		r.Get("/widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "widget "+chi.URLParam(r, "id"))
		})
		r.Post("/widgets", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(b[:2])
		})
		r.Route("/shops/{shop}", func(r chi.Router) {
			r.Get("/items/{item}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		})
		r.Get("/boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	})

	res := send(t, srv, "GET", "/widgets/42", "u1/ws1/", nil)
	e := onlyEvent(t, sink)
	if e.Kind != admin.KindRequest || e.App != "widget_service" || e.Method != "GET" || e.Route != "/widgets/{id}" ||
		e.Status != 200 || e.BytesOut != int64(len("widget 42")) || e.BytesIn != 0 {
		t.Fatalf("GET event %+v", e)
	}
	if e.UserID != "u1" || e.WorkspaceID != "ws1" || e.APIKeyID != "" || e.RequestID != res.Header.Get("X-Request-ID") || e.RequestID == "" {
		t.Fatalf("GET identity %+v (request id header %q)", e, res.Header.Get("X-Request-ID"))
	}
	if e.ID == "" || e.LatencyUS < 0 || e.Time.IsZero() {
		t.Fatalf("GET event id/latency/time %+v", e)
	}

	// Bytes in: the Content-Length, or what was read of a chunked body.
	send(t, srv, "POST", "/widgets", "u1/ws1/key-9", strings.NewReader(`{"name":"sprocket"}`))
	e = onlyEvent(t, sink)
	if e.Route != "/widgets" || e.Method != "POST" || e.Status != 201 || e.BytesIn != 19 || e.BytesOut != 2 || e.APIKeyID != "key-9" {
		t.Fatalf("POST event %+v", e)
	}
	send(t, srv, "POST", "/widgets", "", struct{ io.Reader }{strings.NewReader(`{"name":"chunked"}`)})
	e = onlyEvent(t, sink)
	if e.BytesIn != 18 || e.UserID != "" || e.WorkspaceID != "" {
		t.Fatalf("chunked POST event %+v", e)
	}

	send(t, srv, "GET", "/shops/s1/items/i1", "", nil)
	if e = onlyEvent(t, sink); e.Route != "/shops/{shop}/items/{item}" || e.Status != 204 {
		t.Fatalf("nested route event %+v", e)
	}

	// Unmatched paths are never recorded as such.
	send(t, srv, "GET", "/no/such/path/9f8e7d", "", nil)
	if e = onlyEvent(t, sink); e.Route != admin.RouteUnmatched || e.Status != 404 {
		t.Fatalf("404 event %+v", e)
	}

	// A panic is metered as the 500 it becomes.
	send(t, srv, "GET", "/boom", "", nil)
	if e = onlyEvent(t, sink); e.Route != "/boom" || e.Status != 500 {
		t.Fatalf("panic event %+v", e)
	}

	// Probes are not metered.
	send(t, srv, "GET", "/healthz", "", nil)
	send(t, srv, "GET", "/readyz", "", nil)
	if ev := sink.take(); len(ev) != 0 {
		t.Fatalf("probes were metered: %+v", ev)
	}
}

func TestMeteringWithoutTheAccessLog(t *testing.T) {
	t.Parallel()
	sink := &captureSink{}
	r := chi.NewRouter()
	r.Use(admin.Metering("app", sink))
	r.Get("/files/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "hello")
		http.NewResponseController(w).Flush()
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	send(t, srv, "GET", "/files/a.txt", "", nil)
	if e := onlyEvent(t, sink); e.Route != "/files/{name}" || e.Status != 202 || e.BytesOut != 5 {
		t.Fatalf("event %+v", e)
	}
}

func TestTrackUsage(t *testing.T) {
	t.Parallel()
	sink := &captureSink{}
	errs := make(chan error, 1)
	srv := meteredServer(t, sink, func(r chi.Router) {
		r.Post("/complete", func(w http.ResponseWriter, r *http.Request) {
			u, _ := auth.UserFrom(r.Context())
			errs <- admin.TrackUsage(r.Context(), "widget_service", u.ID, u.WorkspaceID, map[string]int64{"tokens": 1500, "images": 2})
		})
	})
	send(t, srv, "POST", "/complete", "u1/ws1/key-1", nil)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	ev := sink.take()
	if len(ev) != 2 {
		t.Fatalf("%d events, want the usage and the request: %+v", len(ev), ev)
	}
	u := ev[0]
	if u.Kind != admin.KindUsage || u.App != "widget_service" || u.UserID != "u1" || u.WorkspaceID != "ws1" || u.APIKeyID != "key-1" ||
		u.RequestID == "" || u.RequestID != ev[1].RequestID || len(u.Metrics) != 2 || u.Metrics["tokens"] != 1500 || u.Metrics["images"] != 2 || u.ID == "" {
		t.Fatalf("usage event %+v", u)
	}
	if ev[1].Kind != admin.KindRequest {
		t.Fatalf("second event %+v", ev[1])
	}

	// Outside a metered request: a clear error, nothing emitted.
	ctx := t.Context()
	if err := admin.TrackUsage(ctx, "app", "u", "w", map[string]int64{"tokens": 1}); !errors.Is(err, admin.ErrNoSink) {
		t.Fatalf("TrackUsage outside a request: %v, want ErrNoSink", err)
	}
	// A job gives its context the sink.
	jobCtx := admin.WithSink(ctx, sink)
	if err := admin.TrackUsage(jobCtx, "app", "u", "w", map[string]int64{"tokens": 7}); err != nil {
		t.Fatal(err)
	}
	if e := onlyEvent(t, sink); e.Metrics["tokens"] != 7 || e.UserID != "u" || e.WorkspaceID != "w" {
		t.Fatalf("job usage event %+v", e)
	}
	for _, bad := range []map[string]int64{nil, {"": 1}, {"tokens": -1}, {admin.MetricRequests: 1}, {strings.Repeat("m", 101): 1}} {
		if err := admin.TrackUsage(jobCtx, "app", "u", "w", bad); !errors.Is(err, admin.ErrInvalidUsage) {
			t.Fatalf("TrackUsage(%v): %v, want ErrInvalidUsage", bad, err)
		}
	}
	if ev := sink.take(); len(ev) != 0 {
		t.Fatalf("refused counters were emitted: %+v", ev)
	}
}
