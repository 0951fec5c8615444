package admin

import (
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/middleware"
)

// RouteUnmatched is the route of a metered request that matched no route
// (a 404 from the router): raw paths are never recorded.
const RouteUnmatched = "unmatched"

// Metering returns middleware that emits one KindRequest event to sink for
// every request it serves: the route pattern ("/widgets/{id}", never the
// raw path; RouteUnmatched when no route matched, and the mount's pattern,
// such as "/admin/*", when a subrouter's middleware answered before its
// routes were matched), method, status, latency
// and bytes in and out, and the user, workspace and API key of the
// request's principal (auth.PrincipalFrom), so it belongs right after
// authentication. The kernel's probes /healthz and /readyz are not metered.
//
// Handlers below it find sink in their context (SinkFrom), which is what
// TrackUsage emits to. Emit is in memory: metering adds no network round
// trip to a request. The workspace is the request's current one (the
// token's, or X-Workspace-ID); a workspace named only in the route's path
// is not seen. A request whose handler panics is metered with status 500
// unless a status was already sent. With a nil sink Metering returns next
// unchanged.
//
// Bytes in is the request's Content-Length, or the bytes the handler read
// when the length is unknown (a chunked body). Status and bytes out come
// from the access log's record of the response under middleware.Logger
// (the kernel's stack), else from a wrapper of Metering's own.
func Metering(app string, sink Sink) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if sink == nil {
			return next
		}
		deferred := finishesEvents(sink)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := r.URL.Path; p == "/healthz" || p == "/readyz" {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			// Inside the kernel's stack the sink goes into the request's
			// state: no copy of the request.
			r = middleware.WithValue(r, sinkKey{}, sink)
			var bytesIn int64
			var counted *countedRequest
			if r.ContentLength > 0 {
				bytesIn = r.ContentLength
			} else if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
				counted = &countedRequest{req: *r}
				counted.body = countingBody{ReadCloser: r.Body}
				counted.req.Body = &counted.body
				r = &counted.req
			}
			var mw *meterWriter
			if _, _, ok := middleware.ResponseWritten(r.Context()); !ok {
				mw = &meterWriter{ResponseWriter: w}
				w = mw
			}
			// The deferred call is open-coded: the normal path pays next to
			// nothing for it.
			served := false
			defer func() {
				if !served {
					if counted != nil {
						bytesIn = counted.body.n
					}
					emitRequest(sink, app, start, r, bytesIn, mw, true, deferred)
				}
			}()
			next.ServeHTTP(w, r)
			served = true
			if counted != nil {
				bytesIn = counted.body.n
			}
			emitRequest(sink, app, start, r, bytesIn, mw, false, deferred)
		})
	}
}

// countedRequest is a request whose body of unknown length is counted, in
// one allocation.
type countedRequest struct {
	req  http.Request
	body countingBody
}

type sinkKey struct{}

// emitRequest emits the KindRequest event of r.
func emitRequest(sink Sink, app string, start time.Time, r *http.Request, bytesIn int64, mw *meterWriter, panicked, deferred bool) {
	ctx := r.Context()
	var status int
	var out int64
	if mw != nil {
		status, out = mw.status, mw.bytes
	} else {
		status, out, _ = middleware.ResponseWritten(ctx)
	}
	if status == 0 {
		status = http.StatusOK
		if panicked {
			status = http.StatusInternalServerError
		}
	}
	route := RouteUnmatched
	if rctx := chi.RouteContext(ctx); rctx != nil && len(rctx.RoutePatterns) > 0 {
		if len(rctx.RoutePatterns) == 1 {
			route = rctx.RoutePatterns[0] // what RoutePattern returns for a top-level route, without its allocations
			if len(route) > 1 && route[len(route)-1] == '/' {
				route = rctx.RoutePattern()
			}
		} else {
			route = rctx.RoutePattern()
		}
	}
	e := Event{
		Kind:      KindRequest,
		App:       app,
		Time:      start.UTC(),
		Method:    r.Method,
		Route:     route,
		Status:    status,
		LatencyUS: time.Since(start).Microseconds(),
		BytesIn:   bytesIn,
		BytesOut:  out,
	}
	if p, ok := auth.PrincipalFrom(ctx); ok {
		e.UserID, e.WorkspaceID, e.APIKeyID = p.UserID, p.WorkspaceID, p.KeyID
	}
	e.RequestID, _ = middleware.RequestIDFrom(ctx)
	if !deferred {
		e.ID = newEventID(e.Time)
	}
	sink.Emit(e)
}

// countingBody counts the bytes a handler reads from a body of unknown length.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// meterWriter records status and bytes when no middleware.Logger does.
type meterWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *meterWriter) WriteHeader(code int) {
	if w.status == 0 && (code < 100 || code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *meterWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher when the wrapped writer can flush.
func (w *meterWriter) Flush() {
	if err := http.NewResponseController(w.ResponseWriter).Flush(); err == nil && w.status == 0 {
		w.status = http.StatusOK
	}
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *meterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
