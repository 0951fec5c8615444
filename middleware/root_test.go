package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

// rootApp is newApp with a mounted sub-router that has a URL parameter of
// its own and reports the route context it sees.
func rootApp(t *testing.T, logs *logCapture) *chi.Mux {
	t.Helper()
	mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger(), TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	r := newApp(mws)
	sub := chi.NewRouter()
	sub.Get("/{shelf}/items/{n}", func(w http.ResponseWriter, r *http.Request) {
		rctx := chi.RouteContext(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]any{
			"shelf":   chi.URLParam(r, "shelf"),
			"n":       chi.URLParam(r, "n"),
			"pattern": rctx.RoutePattern(),
			"routes":  rctx.Routes != nil && rctx.Routes.Match(chi.NewRouteContext(), http.MethodGet, "/widgets/1"),
		})
	})
	r.Mount("/store", sub)
	return r
}

// TestRootSameAsRouter serves the same requests through a router and
// through Root over an identical router: status, headers, bodies and access
// lines are the same.
func TestRootSameAsRouter(t *testing.T) {
	t.Parallel()
	var directLogs, rootLogs logCapture
	direct := httptest.NewServer(rootApp(t, &directLogs))
	t.Cleanup(direct.Close)
	root := httptest.NewServer(middleware.Root(rootApp(t, &rootLogs)))
	t.Cleanup(root.Close)

	requests := []struct{ method, path, body string }{
		{"GET", "/widgets/42", ""},
		{"GET", "/widgets/missing", ""},
		{"POST", "/widgets", `{"name":"sprocket"}`},
		{"POST", "/widgets", `{"name":`},
		{"GET", "/nope", ""},
		{"DELETE", "/widgets/1", ""},
		{"GET", "/panic", ""},
		{"GET", "/fail", ""},
		{"GET", "/secret/hunter2", ""},
		{"GET", "/store/top/items/7", ""},
		{"GET", "/store/top/nothing", ""},
		{"GET", "/ip", ""},
	}
	for i, rq := range requests {
		id := fmt.Sprintf("same-%d", i)
		var got [2]string
		for j, srv := range []*httptest.Server{direct, root} {
			req, err := http.NewRequest(rq.method, srv.URL+rq.path, strings.NewReader(rq.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Request-ID", id)
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			resp.Header.Del("Date")
			// The client's port differs between the two servers' requests.
			b := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(string(body), "127.0.0.1:port")
			got[j] = fmt.Sprintf("%d %v %s", resp.StatusCode, resp.Header, b)
		}
		if got[0] != got[1] {
			t.Errorf("%s %s:\n router: %s\n   Root: %s", rq.method, rq.path, got[0], got[1])
		}
		dl, rl := directLogs.accessLine(t, id), rootLogs.accessLine(t, id)
		for _, k := range []string{"method", "route", "path", "status", "bytes", "client_ip", "error"} {
			if fmt.Sprint(dl[k]) != fmt.Sprint(rl[k]) {
				t.Errorf("%s %s: access line %s: router %v, Root %v", rq.method, rq.path, k, dl[k], rl[k])
			}
		}
	}
}

// TestRootConcurrent serves many requests at once through Root: every
// request sees its own URL parameters and route pattern although route
// contexts are pooled and reused.
func TestRootConcurrent(t *testing.T) {
	t.Parallel()
	var logs logCapture
	srv := httptest.NewServer(middleware.Root(rootApp(t, &logs)))
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				shelf, n := fmt.Sprintf("s%d", g), fmt.Sprint(i)
				resp, err := srv.Client().Get(srv.URL + "/store/" + shelf + "/items/" + n)
				if err != nil {
					report(err)
					return
				}
				var out struct {
					Shelf, N, Pattern string
					Routes            bool
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil {
					report(err)
					return
				}
				if out.Shelf != shelf || out.N != n || out.Pattern != "/store/{shelf}/items/{n}" || !out.Routes {
					report(fmt.Errorf("request for %s/%s saw %+v", shelf, n, out))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, l := range logs.lines(t) {
		if l["msg"] == "request" {
			lines++
			if l["route"] != "/store/{shelf}/items/{n}" {
				t.Errorf("access line route %v for %v", l["route"], l["path"])
			}
		}
	}
	if lines != 8*50 {
		t.Errorf("%d access lines, want %d", lines, 8*50)
	}
}

// TestRootNested mounts a Root-served router under another chi router that
// is itself served through Root behind a RequestID: the outer Root finds
// the stack's state already made and the inner one a route context, so both
// pass requests through, and routing, parameters, the request ID and the
// one access line stay right.
func TestRootNested(t *testing.T) {
	t.Parallel()
	var logs logCapture
	inner := chi.NewRouter()
	inner.Get("/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id")})
	})
	outer := rootApp(t, &logs)
	outer.Mount("/v1", middleware.Root(inner))
	srv := httptest.NewServer(middleware.RequestID(middleware.Root(outer)))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/things/9", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-ID", "nested-1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"id":"9"}` {
		t.Fatalf("GET /v1/things/9 = %d %s", resp.StatusCode, body)
	}
	if id := resp.Header.Get("X-Request-ID"); id != "nested-1" {
		t.Errorf("X-Request-ID %q, want nested-1", id)
	}
	if l := logs.accessLine(t, "nested-1"); l["route"] != "/v1/things/{id}" {
		t.Errorf("access line route %v, want /v1/things/{id}", l["route"])
	}
}

// TestRootSavesAnAllocation checks what Root is for: one allocation fewer
// per request than the same router served directly.
func TestRootSavesAnAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	var logs logCapture
	mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	r := newApp(mws)
	root := middleware.Root(r)
	req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
	w := &benchWriter{h: make(http.Header, 16)}
	serve := func(h http.Handler) func() {
		return func() {
			clear(w.h)
			logs.Reset()
			h.ServeHTTP(w, req)
		}
	}
	direct, viaRoot := testing.AllocsPerRun(200, serve(r)), testing.AllocsPerRun(200, serve(root))
	if viaRoot > direct-1 {
		t.Errorf("Root: %.0f allocations per request, router alone %.0f; want at least one fewer", viaRoot, direct)
	}
}
