package tracing

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"appkernel/middleware"
)

// Middleware makes a server span per request (otelhttp), named by method
// and, once the router ran, route pattern ("GET /widgets/{id}"), and
// records its trace id for the access line. A traceparent header is
// continued only from a trusted proxy (middleware.FromTrustedProxy);
// from anyone else the request starts a new trace. Install it below
// the kernel's Logger and RealIP (middleware.StackOptions.Observe).
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		if sc := span.SpanContext(); sc.IsValid() && span.IsRecording() {
			middleware.SetTraceID(r.Context(), sc.TraceID().String())
		}
		next.ServeHTTP(w, r)
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			if route := rctx.RoutePattern(); route != "" {
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
		}
		if status, ok := middleware.ResponseStatus(r.Context()); ok {
			statusError(span, status)
		}
	})
	return otelhttp.NewHandler(inner, "",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(trustedPropagator{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// trustedPropagator reads the W3C trace context only from requests whose
// peer is a trusted proxy: anyone else could otherwise join their requests
// to a trace of their choosing, or force sampling.
type trustedPropagator struct{ propagation.TraceContext }

func (p trustedPropagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if !middleware.FromTrustedProxy(ctx) {
		return ctx
	}
	return p.TraceContext.Extract(ctx, carrier)
}
