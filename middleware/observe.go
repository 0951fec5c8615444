package middleware

import (
	"context"
	"net/http"
)

// SetTraceID records the trace id of the request's server span for the
// access line (key trace_id), so a request's log line and its trace can be
// joined. The kernel's tracing middleware calls it when the span is
// recording; it does nothing outside the stack.
func SetTraceID(ctx context.Context, id string) {
	if st := stateFromContext(ctx); st != nil {
		st.traceID = id
	}
}

// FromTrustedProxy reports whether the request's direct peer is one of
// RealIP's trusted proxies, so that headers only a proxy may set (the W3C
// traceparent) are believed. It is false outside the stack and before
// RealIP ran.
func FromTrustedProxy(ctx context.Context) bool {
	st := stateFromContext(ctx)
	return st != nil && st.trustedPeer
}

// ResponseStatus returns the status sent for the request of ctx, 200 when
// the handler wrote nothing (net/http then sends 200), for middleware below
// Logger that reports on the response after its handler returned
// (metrics, tracing). It reads the access log's record, so it holds
// whatever writers other middleware put in between. ok is false when no
// Logger runs for the request.
func ResponseStatus(ctx context.Context) (status int, ok bool) {
	status, _, ok = ResponseWritten(ctx)
	if ok && status == 0 {
		status = http.StatusOK
	}
	return status, ok
}
