package apikeys_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"appkernel/apikeys"
	"appkernel/auth"
	"appkernel/db/dbtest"
)

func TestCreateListRevoke(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.register("alice@example.com")
		bob := h.register("bob@example.com")

		c := h.createKey(alice.AccessToken, map[string]any{"name": "ci deploy", "scopes": []string{"widgets:read", "widgets:write"}, "expires_in_days": 30})
		if !strings.HasPrefix(c.Secret, apikeys.KeyPrefix) || !strings.HasPrefix(c.Secret, c.Prefix) || len(c.Prefix) >= len(c.Secret)/2 {
			t.Fatalf("key %q with display prefix %q", c.Secret, c.Prefix)
		}
		if c.ExpiresAt == nil || time.Until(*c.ExpiresAt) < 29*24*time.Hour || c.UserID != alice.User.ID {
			t.Fatalf("created %+v", c.Key)
		}

		// The key authenticates as alice, as an API key.
		var id identity
		h.do("GET", "/whoami", nil, bearer(c.Secret)...).expect(t, http.StatusOK, &id)
		if id.User.ID != alice.User.ID || id.Principal.Type != auth.PrincipalAPIKey || id.Principal.KeyID != c.ID ||
			strings.Join(id.Principal.Scopes, ",") != "widgets:read,widgets:write" || id.Principal.WorkspaceID != alice.User.WorkspaceID {
			t.Fatalf("identity %+v", id)
		}
		// X-API-Key works too.
		h.do("GET", "/whoami", nil, "X-API-Key", c.Secret).expect(t, http.StatusOK, nil)

		// The list shows the key, never its secret or hash.
		var list []apikeys.Key
		r := h.do("GET", "/auth/api-keys", nil, bearer(alice.AccessToken)...).expect(t, http.StatusOK, &list)
		if len(list) != 1 || list[0].ID != c.ID || list[0].Name != "ci deploy" {
			t.Fatalf("list %s", r.body)
		}
		secretBody := c.Secret[len(c.Prefix):]
		if bytes.Contains(r.body, []byte(secretBody)) || bytes.Contains(r.body, []byte("hash")) || bytes.Contains(r.body, []byte(`"key"`)) {
			t.Fatalf("list leaks the secret: %s", r.body)
		}
		// Bob sees none of alice's keys and cannot revoke them.
		h.do("GET", "/auth/api-keys", nil, bearer(bob.AccessToken)...).expect(t, http.StatusOK, &list)
		if len(list) != 0 {
			t.Fatalf("bob lists %+v", list)
		}
		h.do("DELETE", "/auth/api-keys/"+c.ID, nil, bearer(bob.AccessToken)...).expectError(t, http.StatusNotFound, "not_found")
		h.do("GET", "/whoami", nil, bearer(c.Secret)...).expect(t, http.StatusOK, nil)

		// Revoked: refused at once, gone from the list, a second revoke 404.
		h.do("DELETE", "/auth/api-keys/"+c.ID, nil, bearer(alice.AccessToken)...).expect(t, http.StatusNoContent, nil)
		h.do("GET", "/whoami", nil, bearer(c.Secret)...).expectError(t, http.StatusUnauthorized, "invalid_token")
		h.do("GET", "/auth/api-keys", nil, bearer(alice.AccessToken)...).expect(t, http.StatusOK, &list)
		if len(list) != 0 {
			t.Fatalf("revoked key listed: %+v", list)
		}
		h.do("DELETE", "/auth/api-keys/"+c.ID, nil, bearer(alice.AccessToken)...).expectError(t, http.StatusNotFound, "not_found")
	})
}

func TestMalformedKeyRefusedWithoutLookup(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.register("alice@example.com")
		c := h.createKey(alice.AccessToken, map[string]any{"name": "k"})
		if !apikeys.WellFormed(c.Secret) {
			t.Fatal("a created key is not well formed")
		}
		var bad []string
		// Every one-character typo of the body, with a neighbouring letter.
		for i := len(apikeys.KeyPrefix); i < len(c.Secret); i++ {
			b := []byte(c.Secret)
			if b[i] == 'z' {
				b[i] = 'a'
			} else if b[i] == '7' {
				b[i] = '2'
			} else {
				b[i]++
			}
			bad = append(bad, string(b))
		}
		bad = append(bad,
			apikeys.KeyPrefix+strings.Repeat("a", len(c.Secret)-len(apikeys.KeyPrefix)), // made up
			c.Secret[:len(c.Secret)-1],                   // truncated
			c.Secret+"a",                                 // extended
			strings.ToUpper(c.Secret[:8])+c.Secret[8:],   // other prefix case
			"sk_test_"+c.Secret[len(apikeys.KeyPrefix):], // other prefix
		)
		before := h.store.Stats().Statements
		for _, k := range bad {
			if apikeys.WellFormed(k) {
				t.Fatalf("%q is well formed", k)
			}
			h.do("GET", "/whoami", nil, bearer(k)...).expectError(t, http.StatusUnauthorized, "invalid_token")
		}
		if n := h.store.Stats().Statements - before; n != 0 {
			t.Fatalf("%d statements for %d malformed keys, want none", n, len(bad))
		}
		// A key of the right shape that nobody issued is looked up once,
		// then its refusal is cached.
		h.do("GET", "/whoami", nil, bearer(c.Secret)...).expect(t, http.StatusOK, nil)
	})
}

func TestRevokedExpiredDeactivatedAre401(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		admin := h.register("admin@example.com") // first user: admin
		alice := h.register("alice@example.com")

		expiring := h.createKey(alice.AccessToken, map[string]any{"name": "short", "expires_in_days": 1})
		h.do("GET", "/whoami", nil, bearer(expiring.Secret)...).expect(t, http.StatusOK, nil)
		h.clock.advance(24*time.Hour + time.Second)
		h.do("GET", "/whoami", nil, bearer(expiring.Secret)...).expectError(t, http.StatusUnauthorized, "invalid_token")

		k := h.createKey(alice.AccessToken, map[string]any{"name": "long"})
		h.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)
		if _, err := h.auth.SetActive(context.Background(), alice.User.ID, false); err != nil {
			t.Fatal(err)
		}
		r := h.do("GET", "/whoami", nil, bearer(k.Secret)...)
		r.expectError(t, http.StatusUnauthorized, "invalid_token")
		if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
		if _, err := h.auth.SetActive(context.Background(), alice.User.ID, true); err != nil {
			t.Fatal(err)
		}
		h.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)

		// Revoked through the Go API of the package alone: this Service's
		// cache still holds it until CacheTTL, so use Service.Revoke.
		if err := h.keys.Revoke(context.Background(), alice.User.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		h.do("GET", "/whoami", nil, bearer(k.Secret)...).expectError(t, http.StatusUnauthorized, "invalid_token")
		if err := h.keys.Revoke(context.Background(), admin.User.ID, k.ID); !errors.Is(err, apikeys.ErrNotFound) {
			t.Fatalf("revoke again: %v", err)
		}
	})
}

func TestScopes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		admin := h.register("admin@example.com")
		alice := h.register("alice@example.com")
		if !admin.User.IsAdmin() || alice.User.IsAdmin() {
			t.Fatal("want the first user admin, the second not")
		}
		reader := h.createKey(alice.AccessToken, map[string]any{"name": "r", "scopes": []string{"widgets:read"}})
		writer := h.createKey(alice.AccessToken, map[string]any{"name": "w", "scopes": []string{"widgets:write"}})

		h.do("GET", "/scoped", nil, bearer(reader.Secret)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/scoped", nil, bearer(writer.Secret)...).expectError(t, http.StatusForbidden, "insufficient_scope")
		h.do("GET", "/scoped", nil, bearer(alice.AccessToken)...).expect(t, http.StatusOK, nil) // users pass
		h.do("GET", "/scoped", nil).expectError(t, http.StatusUnauthorized, "unauthorized")

		// RequireAdmin: an admin's key needs the scope "admin"; a user's
		// key with it is still not an admin.
		plain := h.createKey(admin.AccessToken, map[string]any{"name": "p", "scopes": []string{"widgets:read"}})
		full := h.createKey(admin.AccessToken, map[string]any{"name": "a", "scopes": []string{"admin"}})
		aliceAdmin := h.createKey(alice.AccessToken, map[string]any{"name": "a", "scopes": []string{"admin"}})
		h.do("GET", "/admin", nil, bearer(admin.AccessToken)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/admin", nil, bearer(plain.Secret)...).expectError(t, http.StatusForbidden, "insufficient_scope")
		h.do("GET", "/admin", nil, bearer(full.Secret)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/admin", nil, bearer(aliceAdmin.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
	})
}

func TestWorkspaceBoundKey(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice := h.register("alice@example.com")
		bob := h.register("bob@example.com")
		team, err := h.ws.Create(ctx, alice.User.ID, "team")
		if err != nil {
			t.Fatal(err)
		}
		personal := alice.User.WorkspaceID

		bound := h.createKey(alice.AccessToken, map[string]any{"name": "team bot", "workspace_id": team.ID})
		if bound.WorkspaceID != team.ID {
			t.Fatalf("bound to %q", bound.WorkspaceID)
		}
		var id identity
		h.do("GET", "/whoami", nil, bearer(bound.Secret)...).expect(t, http.StatusOK, &id)
		if id.User.WorkspaceID != team.ID || id.Principal.WorkspaceID != team.ID || id.Principal.KeyWorkspaceID != team.ID {
			t.Fatalf("identity %+v", id)
		}
		h.do("GET", "/whoami", nil, append(bearer(bound.Secret), "X-Workspace-ID", team.ID)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/whoami", nil, append(bearer(bound.Secret), "X-Workspace-ID", personal)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("GET", "/probe", nil, bearer(bound.Secret)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/probe?workspace_id="+personal, nil, bearer(bound.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("GET", "/app/"+personal+"/things", nil, bearer(bound.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("GET", "/app/"+team.ID+"/things", nil, bearer(bound.Secret)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/workspaces/"+personal, nil, bearer(bound.Secret)...).expectError(t, http.StatusForbidden, "forbidden")

		// An unbound key acts where its owner may, like an access token.
		free := h.createKey(alice.AccessToken, map[string]any{"name": "free"})
		h.do("GET", "/probe", nil, append(bearer(free.Secret), "X-Workspace-ID", team.ID)...).expect(t, http.StatusOK, nil)
		h.do("GET", "/probe", nil, append(bearer(free.Secret), "X-Workspace-ID", bob.User.WorkspaceID)...).expectError(t, http.StatusForbidden, "forbidden")

		// Workspace keys need its owner or an admin: a member gets 403, a
		// stranger the workspace's 404.
		if _, err := h.ws.AddMember(ctx, team.ID, bob.User.ID, "member"); err != nil {
			t.Fatal(err)
		}
		h.do("POST", "/auth/api-keys", map[string]any{"name": "x", "workspace_id": team.ID}, bearer(bob.AccessToken)...).expectError(t, http.StatusForbidden, "forbidden")
		carol := h.register("carol@example.com")
		h.do("POST", "/auth/api-keys", map[string]any{"name": "x", "workspace_id": team.ID}, bearer(carol.AccessToken)...).expectError(t, http.StatusNotFound, "not_found")
		if _, err := h.ws.AddMember(ctx, team.ID, carol.User.ID, "admin"); err != nil {
			t.Fatal(err)
		}
		h.createKey(carol.AccessToken, map[string]any{"name": "x", "workspace_id": team.ID})
	})
}

func TestKeyCannotManageKeys(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.register("alice@example.com")
		c := h.createKey(alice.AccessToken, map[string]any{"name": "k", "scopes": []string{"admin"}})
		h.do("POST", "/auth/api-keys", map[string]any{"name": "minted"}, bearer(c.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("GET", "/auth/api-keys", nil, bearer(c.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("DELETE", "/auth/api-keys/"+c.ID, nil, bearer(c.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("GET", "/auth/api-keys", nil).expectError(t, http.StatusUnauthorized, "unauthorized")
		// Nor end every session of its owner, nor change the password.
		h.do("POST", "/auth/logout", map[string]any{"all": true}, bearer(c.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("POST", "/auth/password", map[string]any{"current_password": "correct horse battery", "new_password": "another long secret"}, bearer(c.Secret)...).expectError(t, http.StatusForbidden, "forbidden")
		h.do("GET", "/whoami", nil, bearer(alice.AccessToken)...).expect(t, http.StatusOK, nil)
	})
}

func TestCreateValidation(t *testing.T) {
	h := newHarness(t, "sqlite")
	alice := h.register("alice@example.com")
	for _, tc := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"name": ""}, 422, "validation_error"},
		{map[string]any{"name": "   "}, 422, "validation_error"},
		{map[string]any{"name": strings.Repeat("n", apikeys.MaxNameLen+1)}, 422, "validation_error"},
		{map[string]any{"name": "a\nb"}, 422, "validation_error"},
		{map[string]any{"name": "k", "scopes": []string{"Widgets:read"}}, 422, "validation_error"},
		{map[string]any{"name": "k", "scopes": []string{"widgets read"}}, 422, "validation_error"},
		{map[string]any{"name": "k", "scopes": []string{""}}, 422, "validation_error"},
		{map[string]any{"name": "k", "scopes": []string{strings.Repeat("a", apikeys.MaxScopeLen+1)}}, 422, "validation_error"},
		{map[string]any{"name": "k", "scopes": make([]string, apikeys.MaxScopes+1)}, 422, "validation_error"},
		{map[string]any{"name": "k", "expires_in_days": -1}, 422, "validation_error"},
		{map[string]any{"name": "k", "expires_in_days": 3651}, 422, "validation_error"},
		{map[string]any{"name": "k", "scopes": "widgets:read"}, 400, "invalid_json"},
		{"not an object", 400, "invalid_json"},
	} {
		r := h.do("POST", "/auth/api-keys", tc.body, bearer(alice.AccessToken)...)
		if r.status != tc.status {
			t.Fatalf("%v: status %d, want %d; body %s", tc.body, r.status, tc.status, r.body)
		}
		if tc.status == 422 {
			r.expectError(t, tc.status, tc.code)
		}
	}
	// Duplicated scopes are kept once.
	c := h.createKey(alice.AccessToken, map[string]any{"name": "k", "scopes": []string{"a:b", "a:b", "c"}})
	if strings.Join(c.Scopes, " ") != "a:b c" {
		t.Fatalf("scopes %q", c.Scopes)
	}
}
