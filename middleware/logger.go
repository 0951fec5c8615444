package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
)

// LoggerOptions configures Logger. The zero value is usable.
type LoggerOptions struct {
	// Logger receives one line per request. Defaults to NewJSONHandler on
	// os.Stdout at INFO; with that handler (also under NewContextHandler)
	// the line is written without building a slog.Record.
	Logger *slog.Logger

	// Debug shows the text of internal errors (and recovered panics) to the
	// client in 500 responses. Defaults to false: clients see only
	// "internal server error" and the request ID.
	Debug bool

	// Skip reports whether a request's access line is left out when it
	// would be logged at INFO (the kernel skips /healthz and /readyz).
	// Lines at ERROR (status 5xx) are always written. Defaults to nil:
	// nothing is skipped.
	Skip func(r *http.Request) bool
}

// Logger returns middleware that writes one structured line per request
// after the handler ran: method, route (the chi route pattern), path,
// status, bytes, duration_ms, request_id, trace_id when tracing recorded
// one (see SetTraceID), client_ip, and user_id when
// authentication recorded one (see SetUserID). Responses with status 5xx are
// logged at ERROR with the internal error WriteError recorded (and the stack
// of a recovered panic), except 503 (an expected refusal: a dependency is
// away or busy), which is WARN with its error; everything else at INFO, so
// client mistakes never show up as faults, with the error's whole text when
// the client saw only part of it (see WriteError). A handler that panics past Logger (with
// http.ErrAbortHandler, as Recover does once the response has started, or
// without Recover below) still gets its line, at ERROR with the status that
// was sent (0 when none was), before the panic goes on. Handlers get a
// logger carrying the request ID from LoggerFrom.
//
// Logger must run inside the chi router (Router.Use) for the route pattern
// to be known; outside one it supplies a route context of its own.
func Logger(opts LoggerOptions) (func(http.Handler) http.Handler, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(NewJSONHandler(os.Stdout, nil))
	}
	handler := logger.Handler()
	fast := accessLineHandler(handler)
	debug, skip := opts.Debug, opts.Skip
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			r, st := withState(r)
			if st.accessLog {
				// A Logger further up already writes this request's line.
				next.ServeHTTP(w, r)
				return
			}
			st.logger = logger
			st.accessLog = true
			st.debug = st.debug || debug
			rctx := chi.RouteContext(r.Context())
			if rctx == nil {
				// Outside a chi router: give a router further down a
				// context to record the route pattern in.
				rctx = chi.NewRouteContext()
				st.rctx = rctx
			}
			rw := &st.rw
			rw.reset(w, st)

			// The deferred call is open-coded (no defer record), so it
			// costs the normal path next to nothing.
			served := false
			defer func() {
				if !served {
					logAborted(handler, fast, start, r, rctx, st)
				}
			}()
			next.ServeHTTP(rw, r)
			served = true

			status := rw.status
			if !rw.wroteHeader {
				status = http.StatusOK
			}
			level := accessLevel(status)
			ctx := r.Context()
			if !handler.Enabled(ctx, level) {
				return
			}
			if level == slog.LevelInfo && skip != nil && skip(r) {
				return
			}
			// Since reads only the monotonic clock; the line's time is
			// start plus the duration, which saves a wall-clock read.
			d := time.Since(start)
			writeAccessLine(ctx, handler, fast, level, start.Add(d), d, r, rctx, st, status)
		})
	}, nil
}

// accessLevel is the level of a response's access line: a 5xx is a fault
// (ERROR), except 503, the refusal a service expects while a dependency is
// away or busy (jobs_unavailable with Redis down, database busy): WARN.
// Client mistakes are INFO.
func accessLevel(status int) slog.Level {
	switch {
	case status == http.StatusServiceUnavailable:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// errAborted is the access line's error for a handler that did not return
// and left no error of its own (see logAborted).
var errAborted = errors.New("response aborted: the handler panicked")

// logAborted writes the access line of a request whose handler did not
// return: it panicked, with http.ErrAbortHandler (as Recover does once the
// response has started, after recording the panic) or anything else. The
// response is aborted by net/http; the line says at ERROR what had been sent,
// status 0 when nothing was. The panic goes on afterwards.
func logAborted(h slog.Handler, fast *jsonHandler, start time.Time, r *http.Request, rctx *chi.Context, st *requestState) {
	ctx := r.Context()
	if !h.Enabled(ctx, slog.LevelError) {
		return
	}
	if st.err == nil {
		st.err = errAborted
	}
	d := time.Since(start)
	writeAccessLine(ctx, h, fast, slog.LevelError, start.Add(d), d, r, rctx, st, st.rw.status)
}

// accessLineHandler returns the NewJSONHandler under h (looking through
// NewContextHandler, which passes the access line on unchanged as it carries
// request_id already), or nil.
func accessLineHandler(h slog.Handler) *jsonHandler {
	for {
		switch x := h.(type) {
		case *contextHandler:
			h = x.h
		case *jsonHandler:
			return x
		default:
			return nil
		}
	}
}

// writeAccessLine builds the record by hand rather than through
// slog.Logger.LogAttrs: that skips the runtime.Callers walk for the source
// position, which the access line does not need and which costs more than
// the rest of the line. With the kernel's JSON handler (fast non-nil) the
// line is written without a slog.Record at all.
func writeAccessLine(ctx context.Context, h slog.Handler, fast *jsonHandler, level slog.Level, end time.Time, d time.Duration,
	r *http.Request, rctx *chi.Context, st *requestState, status int) {
	path := r.URL.Path
	if st.logPath != "" {
		path = st.logPath
	}
	line := accessLine{
		method:     r.Method,
		route:      rctx.RoutePattern(),
		path:       path,
		status:     status,
		bytes:      st.rw.bytes,
		durationMS: float64(d.Microseconds()) / 1000,
		requestID:  st.requestID,
		traceID:    st.traceID,
		clientIP:   st.clientIP,
		userID:     st.userID,
	}
	if st.err != nil {
		// Below 500 WriteError records only what it kept from the client.
		line.err = st.err.Error()
	}
	if level >= slog.LevelWarn && st.stack != nil {
		line.stack = string(st.stack)
	}
	if fast != nil {
		_ = fast.handleAccess(end, level, &line)
		return
	}
	var attrs [12]slog.Attr
	rec := slog.NewRecord(end, level, accessMsg, 0)
	rec.AddAttrs(line.attrs(&attrs)...)
	_ = h.Handle(ctx, rec)
}

// accessLine holds the attributes of one access line; empty trace_id,
// client_ip, user_id, error and stack are left out.
type accessLine struct {
	method, route, path string
	status              int
	bytes               int64
	durationMS          float64
	requestID           string
	traceID             string
	clientIP, userID    string
	err, stack          string
}

// attrs returns the line's attributes in their order, in buf.
func (l *accessLine) attrs(buf *[12]slog.Attr) []slog.Attr {
	as := append(buf[:0],
		slog.String("method", l.method),
		slog.String("route", l.route),
		slog.String("path", l.path),
		slog.Int("status", l.status),
		slog.Int64("bytes", l.bytes),
		slog.Float64("duration_ms", l.durationMS),
		slog.String("request_id", l.requestID),
	)
	for _, a := range [...]slog.Attr{
		slog.String("trace_id", l.traceID),
		slog.String("client_ip", l.clientIP),
		slog.String("user_id", l.userID),
		slog.String("error", l.err),
		slog.String("stack", l.stack),
	} {
		if a.Value.String() != "" {
			as = append(as, a)
		}
	}
	return as
}

// accessMsg is the message of every access line.
const accessMsg = "request"

// LoggerFrom returns a logger for the request in ctx: the Logger
// middleware's logger with the request_id attribute, so every line a handler
// emits through it can be joined with the access line. It is built once per
// request, on first use. Outside the stack it returns slog.Default(); so it
// does before Logger has run for the request (in middleware placed before
// the stack), with request_id when RequestID has run.
func LoggerFrom(ctx context.Context) *slog.Logger {
	st := stateFromContext(ctx)
	if st == nil {
		return slog.Default()
	}
	if l := st.reqLogger.Load(); l != nil {
		return l
	}
	if st.logger == nil {
		// Logger has not run yet (Root made the state): keep nothing, so
		// handlers below Logger still get its logger.
		if st.requestID != "" {
			return slog.Default().With(slog.String("request_id", st.requestID))
		}
		return slog.Default()
	}
	l := st.logger
	if st.requestID != "" {
		l = l.With(slog.String("request_id", st.requestID))
	}
	if st.reqLogger.CompareAndSwap(nil, l) {
		return l
	}
	return st.reqLogger.Load()
}
