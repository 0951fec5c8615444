package main

import (
	"testing"
)

// An API key reaches the widgets with the scopes it holds: widgets:read to
// list and read, widgets:write to create.
func TestWidgetsWithAPIKeys(t *testing.T) {
	tk := newService(t, nil)
	alice := tk.User(t, "alice@example.com")
	newKey := func(scopes ...string) string {
		var c struct {
			Key string `json:"key"`
		}
		alice.Post(t, "/auth/api-keys", map[string]any{"name": "bot", "scopes": scopes, "expires_in_days": 90}).Expect(t, 201).JSON(t, &c)
		return c.Key
	}
	reader, writer := tk.Client(), tk.Client()
	reader.Token, writer.Token = newKey("widgets:read"), newKey("widgets:read", "widgets:write")

	var w Widget
	writer.Post(t, "/widgets", map[string]any{"name": "gear"}).Expect(t, 201).JSON(t, &w)
	if w.OwnerID != alice.UserID {
		t.Fatalf("a key's widget belongs to %q, want its owner %q", w.OwnerID, alice.UserID)
	}
	reader.Get(t, "/widgets/"+w.ID).Expect(t, 200)
	reader.Get(t, "/widgets").Expect(t, 200)
	if code := reader.Post(t, "/widgets", map[string]any{"name": "cog"}).Expect(t, 403).ErrorCode(t); code != "insufficient_scope" {
		t.Fatalf("code %s", code)
	}
	if code := reader.Post(t, "/widgets/"+w.ID+"/process", nil).Expect(t, 403).ErrorCode(t); code != "insufficient_scope" {
		t.Fatalf("code %s", code)
	}
	none := tk.Client()
	none.Token = newKey()
	if code := none.Get(t, "/widgets").Expect(t, 403).ErrorCode(t); code != "insufficient_scope" {
		t.Fatalf("code %s", code)
	}
	// The user's own access token needs no scope.
	alice.Post(t, "/widgets", map[string]any{"name": "cog"}).Expect(t, 201)
	// A key cannot mint another.
	writer.Post(t, "/auth/api-keys", map[string]any{"name": "x"}).Expect(t, 403)
}
