package admin

import (
	"encoding/json"
	"time"
)

// Kind tells what an Event records.
type Kind string

// The kinds of events.
const (
	KindAudit   Kind = "audit"   // a committed change of an entity (audit_logs)
	KindRequest Kind = "request" // one metered API request (usage_events, +1 "requests")
	KindUsage   Kind = "usage"   // custom counters from TrackUsage (usage_events)
)

// Event is one audit or usage event on its way from the request that made
// it to the admin database. ID (a UUIDv7) makes the worker's writes
// idempotent: an event delivered twice is stored once and counted once.
// Capture leaves ID empty when its sink is a Recorder, which gives the id
// in its flusher, off the request's path. For a Recorder an audit event
// whose changed values are all scalars carries them unencoded, and the
// flusher redacts and encodes them straight into the JSON its transport
// writes (Changes stays nil); any other Sink gets events complete.
type Event struct {
	ID   string    `json:"id"`
	Kind Kind      `json:"kind"`
	App  string    `json:"app"`
	Time time.Time `json:"time"`

	// Who and where, from the request's context; "" when absent.
	UserID      string `json:"user_id,omitempty"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	APIKeyID    string `json:"api_key_id,omitempty"`
	RequestID   string `json:"request_id,omitempty"`

	// Audit: Action is create, update, delete or restore.
	Action   string                 `json:"action,omitempty"`
	Entity   string                 `json:"entity,omitempty"`
	EntityID string                 `json:"entity_id,omitempty"`
	Changes  map[string]FieldChange `json:"changes,omitempty"`

	// Request: Route is the route pattern ("/widgets/{id}"), never the raw path.
	Method    string `json:"method,omitempty"`
	Route     string `json:"route,omitempty"`
	Status    int    `json:"status,omitempty"`
	LatencyUS int64  `json:"latency_us,omitempty"`
	BytesIn   int64  `json:"bytes_in,omitempty"`
	BytesOut  int64  `json:"bytes_out,omitempty"`

	// Usage: custom counters (TrackUsage), added to the aggregates.
	Metrics map[string]int64 `json:"metrics,omitempty"`

	// An audit event for a Recorder carries its changed fields (scalars,
	// which no one can change meanwhile) instead of Changes; finish
	// encodes them in the flusher, straight to the JSON the transports
	// write (changesJSON, in the flusher's arena).
	auditChanges []auditChange
	changesJSON  []byte
}

// finish completes e in the Recorder's flusher: the id and the audit
// changes that capture left to it, the changes encoded at the end of
// arena (which it returns; the event's changesJSON is valid as long as
// what arena held then is).
func (e *Event) finish(arena []byte) []byte {
	if len(e.auditChanges) > 0 {
		start := len(arena)
		arena = appendChanges(arena, e.auditChanges)
		e.changesJSON = arena[start:len(arena):len(arena)]
		e.auditChanges = nil
	}
	if e.ID == "" {
		e.ID = newEventID(e.Time)
	}
	return arena
}

// encodedChanges returns the JSON of e's changes ("{}" for none).
func (e *Event) encodedChanges() ([]byte, error) {
	if e.changesJSON != nil {
		return e.changesJSON, nil
	}
	if len(e.Changes) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(e.Changes)
}

// finishesEvents reports whether sink completes events itself (a
// Recorder), so that capture can leave the id and the audit diff to it.
func finishesEvents(sink Sink) bool {
	_, ok := sink.(*Recorder)
	return ok
}

// FieldChange is one field's value before and after a change (Old is nil
// for a create, New for a permanent delete).
type FieldChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// Sink takes events for shipping. Emit must never block and never fail the
// caller: a full buffer drops the event and counts it.
type Sink interface {
	Emit(e Event)
}
