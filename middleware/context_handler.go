package middleware

import (
	"context"
	"log/slog"
)

// requestIDAttrKey is the attribute name of the request ID in every log line.
const requestIDAttrKey = "request_id"

// NewContextHandler wraps h so that every record logged with a request's
// context (logger.InfoContext(ctx, ...), logger.LogAttrs(ctx, ...)) carries
// the request_id attribute, even from code that never calls LoggerFrom —
// a feature package logging with the kernel's logger, say. Records that
// already have request_id (the access line, LoggerFrom's logger) are left
// alone. After WithGroup the attribute lands inside the group, as any
// attribute added to the record would.
//
// The kernel wraps its logger's handler with it once, at start-up.
func NewContextHandler(h slog.Handler) slog.Handler {
	if c, ok := h.(*contextHandler); ok {
		return c // already adds request_id
	}
	return &contextHandler{h: h}
}

type contextHandler struct {
	h   slog.Handler
	has bool // request_id is among the handler's own attributes
}

func (c *contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return c.h.Enabled(ctx, l)
}

func (c *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if !c.has {
		if id, ok := RequestIDFrom(ctx); ok && !recordHas(r, requestIDAttrKey) {
			r = r.Clone()
			r.AddAttrs(slog.String(requestIDAttrKey, id))
		}
	}
	return c.h.Handle(ctx, r)
}

func (c *contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	has := c.has
	for _, a := range as {
		has = has || a.Key == requestIDAttrKey
	}
	return &contextHandler{h: c.h.WithAttrs(as), has: has}
}

func (c *contextHandler) WithGroup(name string) slog.Handler {
	return &contextHandler{h: c.h.WithGroup(name), has: c.has}
}

func recordHas(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
