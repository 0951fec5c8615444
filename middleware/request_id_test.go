package middleware_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"appkernel/middleware"
)

// serveRequestID runs one request with the given X-Request-ID values
// through RequestID and returns the echoed header and the ID the handler saw.
func serveRequestID(t *testing.T, incoming ...string) (echoed, seen string) {
	t.Helper()
	h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = middleware.RequestIDFrom(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, v := range incoming {
		req.Header.Add(middleware.RequestIDHeader, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Header().Get(middleware.RequestIDHeader), seen
}

func TestRequestIDAcceptsSafeIncoming(t *testing.T) {
	t.Parallel()
	for _, id := range []string{
		"abc-123",
		"trace:0af7651916cd43dd8448eb211c80319c/span=b7ad6b7169203331+x_y.z",
		strings.Repeat("a", 128),
	} {
		echoed, seen := serveRequestID(t, id)
		if echoed != id || seen != id {
			t.Errorf("incoming %q: echoed %q, context %q", id, echoed, seen)
		}
	}
}

func TestRequestIDReplacesUnsafeIncoming(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"CR/LF injection":  {"abc\r\nSet-Cookie: session=evil"},
		"LF only":          {"abc\nx"},
		"10 kB":            {strings.Repeat("a", 10<<10)},
		"129 chars":        {strings.Repeat("a", 129)},
		"space":            {"a b"},
		"quote":            {`a"b`},
		"non-ASCII":        {"ünïcode"},
		"empty":            {""},
		"two headers":      {"a", "b"},
		"no header at all": nil,
	}
	for name, in := range cases {
		echoed, seen := serveRequestID(t, in...)
		if !uuidRE.MatchString(echoed) || echoed != seen {
			t.Errorf("%s: echoed %q, context %q; want the same new UUID", name, echoed, seen)
		}
	}
}

func TestRequestIDNewIDsAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id, _ := serveRequestID(t)
		if seen[id] {
			t.Fatalf("duplicate request ID %s", id)
		}
		seen[id] = true
	}
}

func TestRequestIDFromOutsideStack(t *testing.T) {
	t.Parallel()
	if id, ok := middleware.RequestIDFrom(httptest.NewRequest("GET", "/", nil).Context()); ok || id != "" {
		t.Fatalf("RequestIDFrom outside the stack = %q, %v", id, ok)
	}
}

// TestRequestIDInEveryLogLine: the access line and a handler's line through
// LoggerFrom carry the request ID the client sent, over a real server.
func TestRequestIDInEveryLogLine(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	resp := srv.do(t, http.MethodGet, "/widgets/9", nil, map[string]string{"X-Request-ID": "client-req-42"})
	if got := resp.Header.Get(middleware.RequestIDHeader); got != "client-req-42" {
		t.Fatalf("echoed %q", got)
	}
	lines := srv.logs.lines(t)
	if len(lines) != 2 {
		t.Fatalf("want the handler's line and the access line, got %v", lines)
	}
	for _, l := range lines {
		if l["request_id"] != "client-req-42" {
			t.Errorf("line without the request ID: %v", l)
		}
	}
}

// TestRequestIDHeaderInjectionOverTheWire sends an X-Request-ID with an
// obs-fold line continuation and one with a bare CR on a raw connection:
// the injected text must never come back as a header, and the server keeps
// serving.
func TestRequestIDHeaderInjectionOverTheWire(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	for _, raw := range []string{
		"GET /widgets/1 HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\r\n Set-Cookie: session=evil\r\nConnection: close\r\n\r\n",
		"GET /widgets/1 HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\rSet-Cookie: session=evil\r\nConnection: close\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		t.Logf("status %d, X-Request-ID %q", resp.StatusCode, resp.Header.Get(middleware.RequestIDHeader))
		if resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("header injected through X-Request-ID: %v", resp.Header)
		}
		if resp.StatusCode == http.StatusOK && !uuidRE.MatchString(resp.Header.Get(middleware.RequestIDHeader)) {
			t.Fatalf("unsafe request ID echoed: %q", resp.Header.Get(middleware.RequestIDHeader))
		}
		for _, l := range srv.logs.lines(t) {
			if strings.Contains(l["request_id"].(string), "evil") {
				t.Fatalf("unsafe request ID logged: %v", l)
			}
		}
	}
	srv.assertServing(t)
}

// TestRequestIDOncePerRequest: a second RequestID down the chain (a
// sub-router with its own stack) keeps the first ID.
func TestRequestIDOncePerRequest(t *testing.T) {
	t.Parallel()
	var outer, seen string
	between := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			outer, _ = middleware.RequestIDFrom(r.Context())
			next.ServeHTTP(w, r)
		})
	}
	h := middleware.RequestID(between(middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = middleware.RequestIDFrom(r.Context())
	}))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Values(middleware.RequestIDHeader); len(got) != 1 || got[0] != outer || seen != outer || !uuidRE.MatchString(seen) {
		t.Fatalf("echoed %q, outer %q, inner %q: want one ID", got, outer, seen)
	}
}

// A generated ID stays what it was while later requests get theirs.
func TestRequestIDGeneratedIDsAreStable(t *testing.T) {
	t.Parallel()
	var ids []string
	h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.RequestIDFrom(r.Context())
		ids = append(ids, id)
	}))
	var echoed []string
	for range 1000 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		echoed = append(echoed, rec.Header().Get(middleware.RequestIDHeader))
	}
	runtime.GC()
	seen := map[string]bool{}
	for i, id := range ids {
		if id != echoed[i] || !uuidRE.MatchString(id) || seen[id] {
			t.Fatalf("request %d: id %q, echoed %q (or seen before)", i, id, echoed[i])
		}
		seen[id] = true
	}
}
