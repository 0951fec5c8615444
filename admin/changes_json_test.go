package admin

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"appkernel/db"
)

// fieldChanges is the Changes a plain Sink gets for old → new.
func fieldChanges(old, new db.Entity) map[string]FieldChange {
	return changeMap(changedFields(nil, old, new))
}

// scalarChanges is what a Recorder's audit event carries for old → new,
// and whether it carries it (all values scalars).
func scalarChanges(old, new db.Entity) ([]auditChange, bool) {
	changes := changedFields(nil, old, new)
	return changes, allScalars(changes)
}

// The flusher's encoding of audit changes writes exactly what
// json.Marshal writes for the changes a plain Sink gets (fieldChanges):
// the worker and AuditLogs read one format whichever way an event came.
// Changes holding a JSON value (not all scalars) are left to fieldChanges.
func TestAppendChangesIsJSONMarshalOfFieldChanges(t *testing.T) {
	fields := []string{"name", "size", "Title", "price", "active", "due", "password_hash", "api_token", "id", "updated_at", "created_at", "notes", "<b>", "ünï"}
	zone := time.FixedZone("X", 5*3600+1800)
	values := []any{
		nil, "", "gear", "sprocket", `say "hi"\`, "<a href='x'>&</a>", "café ☕", "line\u2028sep\u2029", "bad \xff utf-8", "tab\tnew\nline\x01", "\x7f",
		int64(0), int64(-42), int64(math.MaxInt64), int64(math.MinInt64), 7, int32(-3),
		0.0, math.Copysign(0, -1), 1.5, -2.25, 1e-6, 9.99e-7, 1e20, 1e21, 1e300, 123456789.125, float32(0.1), float32(3e38),
		true, false,
		time.Date(2026, 12, 7, 4, 0, 0, 123456789, time.UTC), time.Date(2026, 12, 7, 4, 0, 0, 0, zone), time.Time{},
		map[string]any{"theme": "dark", "api_secret": "s", "nested": map[string]any{"token": 1.0, "ok": []any{"x", 2.0}}},
		[]any{"a", 1.0, nil, map[string]any{"password": "p"}},
	}
	entity := func(r *rand.Rand) db.Entity {
		if r.IntN(8) == 0 {
			return nil
		}
		e := db.Entity{}
		for range r.IntN(len(fields)) {
			e[fields[r.IntN(len(fields))]] = values[r.IntN(len(values))]
		}
		return e
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		old, new := entity(r), entity(r)
		if i%3 == 0 && old != nil { // updates of a few fields, as most are
			new = db.Entity{}
			for f, v := range old {
				new[f] = v
			}
			new[fields[r.IntN(len(fields))]] = values[r.IntN(len(values))]
		}
		want, err := json.Marshal(fieldChanges(old, new))
		if err != nil {
			t.Fatal(err)
		}
		changes, ok := scalarChanges(old, new)
		if !ok {
			if !holdsJSONValue(old) && !holdsJSONValue(new) {
				t.Fatalf("%v → %v: refused as not all scalars", old, new)
			}
			continue
		}
		if len(changes) == 0 {
			if string(want) != "{}" {
				t.Fatalf("%v → %v: no changes, want %s", old, new, want)
			}
			continue
		}
		got := appendChanges([]byte("prefix"), changes)
		if string(got[:6]) != "prefix" {
			t.Fatalf("appendChanges overwrote its buffer: %q", got)
		}
		if got = got[6:]; string(got) != string(want) {
			t.Fatalf("%v → %v:\n got %s\nwant %s", old, new, got, want)
		}
	}
}

func holdsJSONValue(e db.Entity) bool {
	for _, v := range e {
		switch v.(type) {
		case map[string]any, []any:
			return true
		}
	}
	return false
}

// A value json.Marshal refuses still encodes (as its text), so that one
// odd value never keeps a batch from shipping.
func TestAppendChangesEncodesWhatJSONRefuses(t *testing.T) {
	far := time.Date(2026, 12, 7, 0, 0, 0, 0, time.FixedZone("far", 25*3600))
	changes, ok := scalarChanges(db.Entity{"x": 1.0, "t": time.Time{}, "z": nil},
		db.Entity{"x": math.NaN(), "t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "z": far})
	if !ok || len(changes) != 3 {
		t.Fatalf("changes %v, %v", changes, ok)
	}
	got := appendChanges(nil, changes)
	var v map[string]FieldChange
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if v["x"].Old != 1.0 || v["x"].New != "NaN" || v["t"].New != "10000-01-01 00:00:00 +0000 UTC" || v["z"].New != far.String() {
		t.Fatalf("changes %s", got)
	}
}

// An event id is written as uuid.UUID.String writes the same bytes, and is
// a UUIDv7 of its time.
func TestEventIDFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		hi, lo := r.Uint64(), r.Uint64()
		var u uuid.UUID
		binary.BigEndian.PutUint64(u[:8], hi)
		binary.BigEndian.PutUint64(u[8:], lo)
		if got, want := formatUUID(hi, lo), u.String(); got != want {
			t.Fatalf("formatUUID(%#x, %#x) = %s, want %s", hi, lo, got, want)
		}
	}
	now := time.Now()
	u, err := uuid.Parse(newEventID(now))
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("event id %v (%v): not a UUIDv7", u, err)
	}
	if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).UnixMilli() != now.UnixMilli() {
		t.Errorf("event id time %v, want %v", time.Unix(sec, nsec), now)
	}
}
