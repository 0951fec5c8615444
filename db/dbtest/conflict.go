package dbtest

import (
	"errors"
	"strings"
	"testing"

	"appkernel/db"
)

// A unique violation is a *db.ConflictError naming the fields of the index
// (known from EnsureIndex, or from the database), whose ClientMessage
// carries none of the driver's words, the value or the index name.
func testConflictNamesFields(t *testing.T, b *bundle) {
	if err := b.store.EnsureIndex(b.ctx, "handles", []string{"tenant", "handle"}, true); err != nil {
		t.Fatal(err)
	}
	if err := b.store.EnsureIndex(b.ctx, "handles", []string{"email"}, true); err != nil {
		t.Fatal(err)
	}
	b.save(t, "handles", db.Entity{"tenant": "acme", "handle": "alice", "email": "a@x.io"})
	for _, c := range []struct {
		e      db.Entity
		fields string
		msg    string
	}{
		{db.Entity{"tenant": "acme", "handle": "alice"}, "tenant,handle", "this combination of tenant and handle is already taken"},
		{db.Entity{"email": "a@x.io"}, "email", "email is already taken"},
	} {
		_, err := b.store.SaveEntity(b.ctx, "handles", c.e)
		var ce *db.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, db.ErrConflict) {
			t.Fatalf("save %v: %v is not a ConflictError", c.e, err)
		}
		if strings.Join(ce.Fields, ",") != c.fields || ce.ClientMessage() != c.msg {
			t.Errorf("save %v: fields %v, client message %q; want %s, %q", c.e, ce.Fields, ce.ClientMessage(), c.fields, c.msg)
		}
		if !strings.Contains(err.Error(), ce.Err.Error()) {
			t.Errorf("the error's text %q leaves out the driver's %q", err, ce.Err)
		}
	}
	// A store that did not call EnsureIndex (another instance) still says
	// conflict, in its own words at least.
	_, err := b.open(t).SaveEntity(b.ctx, "handles", db.Entity{"email": "a@x.io"})
	var ce *db.ConflictError
	if !errors.As(err, &ce) || strings.Contains(ce.ClientMessage(), "a@x.io") || strings.Contains(ce.ClientMessage(), "handles_") {
		t.Errorf("conflict through another store: %v", err)
	}
}
