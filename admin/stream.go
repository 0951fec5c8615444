package admin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The events stream is Prefix+streamSuffix; each entry holds one event as
// JSON in the field streamField.
const (
	streamSuffix = "events"
	streamField  = "e"
)

// streamSender returns the Recorder's Redis transport: one pipeline of
// XADDs per send (the events of one or more of its batches), the stream
// trimmed to about maxLen entries. A send that fails half way is made
// again whole; the events it had already added are stored once all the
// same, as the worker persists by event id.
func streamSender(rdb redis.UniversalClient, stream string, maxLen int64) func(context.Context, [][]Event) error {
	return func(ctx context.Context, batches [][]Event) error {
		var values [][]byte
		for _, events := range batches {
			for _, e := range events {
				var b []byte
				var err error
				if e.changesJSON != nil {
					b, err = json.Marshal(wireEvent{Event: e, Changes: e.changesJSON})
				} else {
					b, err = json.Marshal(e)
				}
				if err != nil {
					return fmt.Errorf("admin: encode event %s: %w", e.ID, err)
				}
				values = append(values, b)
			}
		}
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, v := range values {
				p.XAdd(ctx, &redis.XAddArgs{Stream: stream, MaxLen: maxLen, Approx: true, Values: []any{streamField, v}})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("admin: XADD to %s: %w", stream, err)
		}
		return nil
	}
}

// wireEvent is an Event as the stream holds it: Changes, when the
// Recorder encoded them already (Event.changesJSON), replaces the Event's
// own field of the same name.
type wireEvent struct {
	Event
	Changes json.RawMessage `json:"changes,omitempty"`
}

// decodeEntry reads the event of one stream entry.
func decodeEntry(m redis.XMessage) (Event, error) {
	var e Event
	raw, ok := m.Values[streamField].(string)
	if !ok {
		return e, fmt.Errorf("admin: stream entry %s has no field %q", m.ID, streamField)
	}
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return e, fmt.Errorf("admin: stream entry %s: %w", m.ID, err)
	}
	return e, nil
}
