package admin

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

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
		e.auditChanges, e.Changes = auditedChanges(c.Old, c.New, deferred)
		fillIdentity(ctx, &e)
		if !deferred {
			e.ID = newEventID(e.Time)
		}
		sink.Emit(e)
	}
}

// auditChange is one changed field of an audit event: its values before
// and after, not redacted yet.
type auditChange struct {
	field    string
	old, new any
}

// auditedChanges returns what an audit event of old → new carries: for a
// Recorder (deferred), its changed fields when they are all scalars,
// which the Recorder encodes off the request's path as no one can change
// them meanwhile; else its Changes.
func auditedChanges(old, new db.Entity, deferred bool) ([]auditChange, map[string]FieldChange) {
	// The array is here, not in the observer: inlined into its caller,
	// the observer's escaped to the heap (an allocation per save).
	var room [8]auditChange
	fields := changedFields(room[:0], old, new)
	if deferred && allScalars(fields) {
		return slices.Clone(fields), nil
	}
	return nil, changeMap(fields)
}

// allScalars reports whether the values of changes are all scalars:
// values no one can change after the save, unlike the maps and slices of
// JSON values, which the caller may share and modify.
func allScalars(changes []auditChange) bool {
	for _, c := range changes {
		if !scalar(c.old) || !scalar(c.new) {
			return false
		}
	}
	return true
}

// changedFields appends to changes the fields that differ between old and
// new (nil for a create, new nil for a permanent delete), but those
// auditSkipped leaves out. A single pass over new finds them when old has
// no field new lacks, as in most updates.
func changedFields(changes []auditChange, old, new db.Entity) []auditChange {
	shared := 0 // fields of old also in new
	for f, n := range new {
		o, had := old[f]
		if had {
			shared++
		}
		if auditSkipped(f) || (had && sameValue(o, n)) || (!had && n == nil) {
			continue // absent and null read the same
		}
		changes = append(changes, auditChange{f, o, n})
	}
	if shared < len(old) { // fields only old has: removed, or a delete
		for f, o := range old {
			if _, has := new[f]; !has && o != nil && !auditSkipped(f) {
				changes = append(changes, auditChange{f, o, nil})
			}
		}
	}
	return changes
}

// redacted returns c's values as an event records them: both Redacted
// for a secret field, the secret keys of JSON values redacted otherwise.
func (c auditChange) redacted() (old, new any) {
	if secretField(c.field) {
		return redact(c.old), redact(c.new)
	}
	return redactNested(c.old), redactNested(c.new)
}

// scalar reports whether v is one of the immutable values of an entity.
func scalar(v any) bool {
	switch v.(type) {
	case nil, string, int64, float64, bool, time.Time, int, int32, float32:
		return true
	}
	return false
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
	hi := uint64(now.UnixMilli())<<16 | rand.Uint64()&0x0fff | 0x7000 // version 7
	lo := rand.Uint64()&^(3<<62) | 1<<63                              // variant 10
	return formatUUID(hi, lo)
}

// formatUUID writes the UUID whose bytes are hi and lo (big-endian) in its
// canonical form, as uuid.UUID.String does, in one allocation.
func formatUUID(hi, lo uint64) string {
	var b [36]byte
	putHex(b[0:8], hi>>32)
	b[8] = '-'
	putHex(b[9:13], hi>>16)
	b[13] = '-'
	putHex(b[14:18], hi)
	b[18] = '-'
	putHex(b[19:23], lo>>48)
	b[23] = '-'
	putHex(b[24:36], lo)
	return string(b[:])
}

// putHex fills dst with the len(dst) lowest hex digits of v.
func putHex(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
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

// changeMap returns the changes of fields (of changedFields) as an
// Event's Changes, secrets redacted.
func changeMap(fields []auditChange) map[string]FieldChange {
	changes := make(map[string]FieldChange, len(fields))
	for _, c := range fields {
		o, n := c.redacted()
		changes[c.field] = FieldChange{Old: o, New: n}
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
