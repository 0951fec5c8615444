// Package tracing makes the kernel's OpenTelemetry spans: a server span per
// request named by its route pattern, child spans for entity store
// operations and Redis commands, and a span per job run linked to the span
// that enqueued the job (the W3C traceparent travels with the job).
//
// Spans are made only under a request or a job: the store and Redis work a
// service does on its own (start-up, the worker's polling) starts no trace.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"appkernel/db"
)

// ScopeName is the instrumentation scope of the kernel's spans.
const ScopeName = "appkernel"

// Tracing makes the kernel's spans with one tracer provider.
type Tracing struct {
	tp       trace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
	shutdown func(context.Context) error // of a provider built here; nil for one given
}

// Enabled reports whether the standard OTEL_* variables ask for exported
// traces: an OTLP endpoint is set, and neither OTEL_SDK_DISABLED nor
// OTEL_TRACES_EXPORTER=none turns them off.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// ErrProtocol is returned by NewOTLP for an OTLP protocol other than
// http/protobuf.
var ErrProtocol = errors.New("only OTLP over HTTP (http/protobuf) is supported")

// NewOTLP returns Tracing over a tracer provider exporting OTLP over HTTP
// in batches, configured by the standard OTEL_* variables (endpoint,
// headers, timeout, sampler, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES),
// with service.name defaulting to service. Call Shutdown to flush it.
func NewOTLP(ctx context.Context, service string) (*Tracing, error) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(v); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s=%q: %w", v, p, ErrProtocol)
			}
			break
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := New(tp)
	t.shutdown = tp.Shutdown
	return t, nil
}

// New returns Tracing over tp (tests pass one with an in-memory exporter).
// The caller owns tp.
func New(tp trace.TracerProvider) *Tracing {
	return &Tracing{tp: tp, tracer: tp.Tracer(ScopeName)}
}

// Provider returns the tracer provider.
func (t *Tracing) Provider() trace.TracerProvider { return t.tp }

// Shutdown flushes and stops a provider NewOTLP built; it does nothing for
// one given to New.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// TraceParent returns the W3C traceparent of the span in ctx, or "" when
// there is none (jobs.WithTraceParent).
func (t *Tracing) TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	return c["traceparent"]
}

// StoreOp records an entity store operation as a client span under the
// span in ctx (db.Config.OnOp), after the fact, with its real start and end.
func (t *Tracing) StoreOp(ctx context.Context, op db.Op) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	_, span := t.tracer.Start(ctx, op.Name+" "+op.Table,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(op.Start),
		trace.WithAttributes(
			attribute.String("db.operation.name", op.Name),
			attribute.String("db.collection.name", op.Table),
		))
	if op.Err != nil && !errors.Is(op.Err, db.ErrNotFound) {
		span.RecordError(op.Err)
		span.SetStatus(codes.Error, op.Err.Error())
	}
	span.End(trace.WithTimestamp(op.Start.Add(op.Duration)))
}

// statusError marks a span as failed for a 5xx response.
func statusError(span trace.Span, status int) {
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}
