package admin

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// Redacted stands for the old and new values of a secret field in an audit
// event's changes: the event says the field changed, never what it holds.
const Redacted = "[redacted]"

// AuditObserver returns a change observer for db.Store.OnChange that emits
// one KindAudit event to sink for every committed change of an entity
// (the store calls observers after the commit, once per change, and never
// for a rolled-back transaction).
//
// The event carries the action (create, update, delete or restore), the
// entity (its table) and id, and its field changes, old → new: every field
// for a create and a permanent delete, only the changed ones otherwise.
// id, created_at and updated_at are left out: the event's own entity id
// and time say as much, and updated_at would appear in every update. A
// soft delete shows as deleted_at nil → time, a restore the other way.
//
// Secrets are never recorded. Tables whose history is disabled
// (db.Store.DisableHistory: refresh tokens, invites…) never reach
// observers, and a field whose lowercase name contains password, passwd,
// secret, token, hash (password_hash, key_hash…), private_key or
// credential keeps its place in the changes with both values Redacted; so
// do such keys inside JSON values (a settings map's "api_token").
//
// Who made the change comes from ctx: the user, API key and workspace of
// auth.PrincipalFrom and the request id of middleware.RequestIDFrom; they
// are "" for a change made outside a request. A nil sink audits nothing.
func AuditObserver(app string, sink Sink) func(ctx context.Context, c db.Change) {
	if sink == nil {
		return func(context.Context, db.Change) {}
	}
	deferred := finishesEvents(sink)
	return func(ctx context.Context, c db.Change) {
		e := Event{
			Kind:     KindAudit,
			App:      app,
			Time:     time.Now().UTC(),
			Action:   c.Op,
			Entity:   c.Table,
			EntityID: c.ID,
		}
		if deferred && immutableValues(c.Old) && immutableValues(c.New) {
			// The Recorder diffs them off the request's path: c's maps are
			// this observer's own (OnChange), and nothing in them can
			// change meanwhile.
			e.auditOld, e.auditNew, e.auditPending = c.Old, c.New, true
		} else {
			e.Changes = fieldChanges(c.Old, c.New)
		}
		fillIdentity(ctx, &e)
		if !deferred {
			e.ID = newEventID(e.Time)
		}
		sink.Emit(e)
	}
}

// immutableValues reports whether every value of entity is one that no
// one can change after the save: scalars, not the maps and slices of JSON
// values, which the caller may share and modify.
func immutableValues(entity db.Entity) bool {
	for _, v := range entity {
		switch v.(type) {
		case nil, string, int64, float64, bool, time.Time, int, int32, float32:
		default:
			return false
		}
	}
	return true
}

// fillIdentity copies who acts in ctx into e.
func fillIdentity(ctx context.Context, e *Event) {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		e.UserID, e.WorkspaceID, e.APIKeyID = p.UserID, p.WorkspaceID, p.KeyID
	}
	e.RequestID, _ = middleware.RequestIDFrom(ctx)
}

// newEventID returns a UUIDv7 (RFC 9562) for an event made at now: the
// Unix milliseconds, then 74 random bits, so ids sort by creation time.
// The random bits come from math/rand/v2's generator (ChaCha8, seeded by
// the OS), not from crypto/rand as uuid.NewV7 does: a getrandom system
// call per event costs more than all the rest of metering a request, and
// an event id needs uniqueness, not secrecy.
func newEventID(now time.Time) string {
	var u uuid.UUID
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(u[:8], ms<<16|rand.Uint64()&0x0fff|0x7000)
	binary.BigEndian.PutUint64(u[8:], rand.Uint64()&^(3<<62)|1<<63) // variant 10
	return u.String()
}

// auditSkipped reports the fields an audit event leaves out (see AuditObserver).
func auditSkipped(field string) bool {
	return field == "id" || field == "created_at" || field == "updated_at"
}

// secretField reports whether a field holds a secret by its name.
func secretField(field string) bool {
	f := strings.ToLower(field)
	for _, w := range [...]string{"password", "passwd", "secret", "token", "hash", "private_key", "credential"} {
		if strings.Contains(f, w) {
			return true
		}
	}
	return false
}

// fieldChanges returns the fields that differ between old and new (nil for
// a create, new nil for a permanent delete), secrets redacted.
func fieldChanges(old, new db.Entity) map[string]FieldChange {
	changes := make(map[string]FieldChange, max(len(new), len(old)))
	add := func(field string, o, n any) {
		if secretField(field) {
			o, n = redact(o), redact(n)
		} else {
			o, n = redactNested(o), redactNested(n)
		}
		changes[field] = FieldChange{Old: o, New: n}
	}
	for f, n := range new {
		if auditSkipped(f) {
			continue
		}
		o, had := old[f]
		if had && sameValue(o, n) {
			continue
		}
		if !had && n == nil {
			continue // absent and null read the same
		}
		add(f, o, n)
	}
	for f, o := range old {
		if auditSkipped(f) {
			continue
		}
		if _, has := new[f]; has {
			continue
		}
		if o == nil {
			continue
		}
		add(f, o, nil)
	}
	return changes
}

// redact hides a value but keeps whether there was one.
func redact(v any) any {
	if v == nil {
		return nil
	}
	return Redacted
}

// redactNested returns v with the secret keys of the JSON objects inside
// it redacted (a settings field holding {"api_token": …}); the event gets
// copies, the entity's own maps are shared with the caller.
func redactNested(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			if secretField(k) {
				c[k] = redact(e)
			} else {
				c[k] = redactNested(e)
			}
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = redactNested(e)
		}
		return c
	}
	return v
}

// sameValue compares two entity values: scalars directly, times by
// instant, JSON values (maps, slices) deeply.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}
