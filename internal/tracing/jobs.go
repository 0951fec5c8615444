package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"appkernel/jobs"
)

// JobHooks returns the worker hooks that make a span per job run: a new
// trace ("job <task>", a consumer span) linked to the span that enqueued
// the job when it carried a traceparent, and the parent of the spans the
// handler's store and Redis calls make.
func (t *Tracing) JobHooks() jobs.Hooks {
	return jobs.Hooks{Run: func(ctx context.Context, job *jobs.Job) (context.Context, func(error)) {
		opts := []trace.SpanStartOption{
			trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "appkernel.jobs"),
				attribute.String("messaging.destination.name", job.Queue),
				attribute.String("messaging.message.id", job.ID),
				attribute.String("appkernel.job.task", job.Name),
				attribute.Int("appkernel.job.attempt", job.Attempt),
			),
		}
		if job.TraceParent != "" {
			rc := t.prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": job.TraceParent})
			if sc := trace.SpanContextFromContext(rc); sc.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			}
		}
		ctx, span := t.tracer.Start(ctx, "job "+job.Name, opts...)
		return ctx, func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}}
}
