package jobs

import (
	"context"
	"log/slog"
)

// jobHandler attaches a job's attributes to the records its handler logs.
// Unlike Logger.With it formats nothing up front, so a job that logs
// nothing costs one small allocation.
type jobHandler struct {
	inner slog.Handler
	attrs []slog.Attr
}

func newJobLogger(base *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	return slog.New(&jobHandler{inner: base.Handler(), attrs: attrs})
}

func (h *jobHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *jobHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.attrs...)
	return h.inner.Handle(ctx, r)
}

func (h *jobHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.inner.WithAttrs(append(h.attrs[:len(h.attrs):len(h.attrs)], as...))
}

func (h *jobHandler) WithGroup(name string) slog.Handler {
	return h.inner.WithAttrs(h.attrs).WithGroup(name)
}
