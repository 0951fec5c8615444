package appkernel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/tracing"
	"appkernel/jobs"
)

// wireTracing builds the tracer: Config.TracerProvider, else an OTLP/HTTP
// exporter configured by the OTEL_* variables when Config.Tracing. Off, no
// hook is installed anywhere and tracing costs nothing.
func (k *Kernel) wireTracing(ctx context.Context) error {
	cfg := k.cfg
	switch {
	case cfg.TracerProvider != nil:
		k.tracing = tracing.New(cfg.TracerProvider)
		k.feature("tracing", "on (Config.TracerProvider)")
	case cfg.Tracing:
		t, err := tracing.NewOTLP(ctx, cfg.Name)
		if errors.Is(err, tracing.ErrProtocol) {
			return fmt.Errorf("%w: tracing: %v", ErrConfig, err)
		}
		if err != nil {
			return fmt.Errorf("appkernel: tracing: %w", err)
		}
		k.tracing = t
		k.closers = append(k.closers, func() error {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			return t.Shutdown(sctx)
		})
		endpoint := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
		if endpoint == "" {
			endpoint = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		}
		k.feature("tracing", "on (OTLP/HTTP to "+MaskURL(endpoint)+")")
	default:
		k.feature("tracing", "off (OTEL_EXPORTER_OTLP_ENDPOINT not set)")
	}
	return nil
}

// instrumentRedis gives rdb's commands spans under requests and jobs.
func (k *Kernel) instrumentRedis(rdb redis.UniversalClient) {
	if k.tracing != nil {
		k.tracing.InstrumentRedis(rdb)
	}
}

// observeMiddlewares are middleware.StackOptions.Observe: the server span,
// then the request metrics (so the span covers them too).
func (k *Kernel) observeMiddlewares() []func(http.Handler) http.Handler {
	var mws []func(http.Handler) http.Handler
	if k.tracing != nil {
		mws = append(mws, k.tracing.Middleware)
	}
	if m := k.activeMetrics(); m != nil {
		mws = append(mws, m.Middleware)
	}
	return mws
}

// jobClientOptions carry the enqueuing span's traceparent with each job.
func (k *Kernel) jobClientOptions() []jobs.ClientOption {
	if k.tracing == nil {
		return nil
	}
	return []jobs.ClientOption{jobs.WithTraceParent(k.tracing.TraceParent)}
}

// jobHooks are the worker's hooks: a span per run (linked to the
// enqueuing span) and the run metrics.
func (k *Kernel) jobHooks() jobs.Hooks {
	var h jobs.Hooks
	if k.tracing != nil {
		h = k.tracing.JobHooks()
	}
	if m := k.activeMetrics(); m != nil {
		h = chainJobHooks(h, m.JobHooks())
	}
	return h
}

// chainJobHooks runs a's hooks, then b's (b's Run inside a's).
func chainJobHooks(a, b jobs.Hooks) jobs.Hooks {
	out := jobs.Hooks{Run: a.Run, Outcome: a.Outcome}
	if a.Run != nil && b.Run != nil {
		out.Run = func(ctx context.Context, job *jobs.Job) (context.Context, func(error)) {
			ctx, doneA := a.Run(ctx, job)
			ctx, doneB := b.Run(ctx, job)
			return ctx, func(err error) {
				if doneB != nil {
					doneB(err)
				}
				if doneA != nil {
					doneA(err)
				}
			}
		}
	} else if b.Run != nil {
		out.Run = b.Run
	}
	if a.Outcome != nil && b.Outcome != nil {
		out.Outcome = func(task, outcome string) { a.Outcome(task, outcome); b.Outcome(task, outcome) }
	} else if b.Outcome != nil {
		out.Outcome = b.Outcome
	}
	return out
}
