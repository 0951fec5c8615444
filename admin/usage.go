package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"
)

// ErrNoSink is returned by TrackUsage for a context without a sink: one
// that did not come through Metering, nor WithSink.
var ErrNoSink = errors.New("admin: no usage sink in the context (TrackUsage needs a request served through the metering middleware, or a context from WithSink)")

// ErrInvalidUsage is returned by TrackUsage for a counter it refuses: no
// counters, an empty or overlong metric name, MetricRequests (metering
// counts requests itself) or a negative value.
var ErrInvalidUsage = errors.New("admin: invalid usage counters")

// maxMetricLen bounds a metric name (the aggregates' key column holds 191).
const maxMetricLen = 100

// WithSink returns ctx carrying sink, for TrackUsage outside a metered
// request (a job, a command). Metering does the same for every request.
func WithSink(ctx context.Context, sink Sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, sink)
}

// SinkFrom returns the sink that Metering or WithSink put in ctx.
func SinkFrom(ctx context.Context) (Sink, bool) {
	s, ok := ctx.Value(sinkKey{}).(Sink)
	return s, ok && s != nil
}

// TrackUsage adds custom counters (say {"tokens": 1500}) to the usage of
// app for a user and a workspace: one KindUsage event, summed into the
// aggregates by the admin worker. Inside a metered request it needs nothing
// else; elsewhere ctx must come from WithSink, or ErrNoSink is returned.
// The request id and API key of ctx, if any, go with the event. Refused
// counters are ErrInvalidUsage, wrapped with the reason.
//
//	err := admin.TrackUsage(r.Context(), "widget_service", u.ID, u.WorkspaceID,
//		map[string]int64{"tokens": 1500})
func TrackUsage(ctx context.Context, app, userID, workspaceID string, metrics map[string]int64) error {
	sink, ok := SinkFrom(ctx)
	if !ok {
		return ErrNoSink
	}
	if err := validateMetrics(metrics); err != nil {
		return err
	}
	e := Event{
		Kind: KindUsage,
		App:  app,
		Time: time.Now().UTC(),
	}
	if !finishesEvents(sink) {
		e.ID = newEventID(e.Time)
	}
	fillIdentity(ctx, &e)
	e.UserID, e.WorkspaceID = userID, workspaceID
	e.Metrics = maps.Clone(metrics) // the caller may reuse its map
	sink.Emit(e)
	return nil
}

func validateMetrics(metrics map[string]int64) error {
	if len(metrics) == 0 {
		return fmt.Errorf("%w: no counters", ErrInvalidUsage)
	}
	for name, v := range metrics {
		switch {
		case name == "" || len(name) > maxMetricLen:
			return fmt.Errorf("%w: metric name %q must have 1 to %d bytes", ErrInvalidUsage, name, maxMetricLen)
		case name == MetricRequests:
			return fmt.Errorf("%w: %q is counted by the metering middleware", ErrInvalidUsage, name)
		case v < 0:
			return fmt.Errorf("%w: metric %q: negative value %d", ErrInvalidUsage, name, v)
		}
	}
	return nil
}
