package apikeys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"appkernel/apikeys"
	"appkernel/db/dbtest"
)

// The package functions work on a bare store, as a script uses them.
func TestFunctionsOnAStore(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		store := openStore(t, dialect)
		if err := apikeys.Init(ctx, store); err != nil {
			t.Fatal(err)
		}
		c, err := apikeys.Create(ctx, store, apikeys.Params{UserID: "u1", Name: "seed", Scopes: []string{"reports:read"}, ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !apikeys.WellFormed(c.Secret) || c.ExpiresAt == nil || len(c.Scopes) != 1 {
			t.Fatalf("created %+v", c)
		}
		if _, err := apikeys.Create(ctx, store, apikeys.Params{UserID: "u1", Name: "x", ExpiresIn: -time.Second}); !errors.Is(err, apikeys.ErrInvalidParams) {
			t.Fatalf("negative expiry: %v", err)
		}
		keys, err := apikeys.List(ctx, store, "u1")
		if err != nil || len(keys) != 1 || keys[0].ID != c.ID {
			t.Fatalf("list %+v, %v", keys, err)
		}
		if err := apikeys.Revoke(ctx, store, "u2", c.ID); !errors.Is(err, apikeys.ErrNotFound) {
			t.Fatalf("revoke by another user: %v", err)
		}
		if err := apikeys.Revoke(ctx, store, "u1", c.ID); err != nil {
			t.Fatal(err)
		}
		if keys, _ := apikeys.List(ctx, store, "u1"); len(keys) != 0 {
			t.Fatalf("revoked key listed: %+v", keys)
		}
		// No key hash is kept in history.
		if h, err := store.History(ctx, apikeys.Table, c.ID); err == nil && len(h) > 0 {
			t.Fatalf("history kept: %+v", h)
		}
	})
}

// Concurrent creates for one user all succeed with distinct keys (-race).
func TestConcurrentCreate(t *testing.T) {
	h := newHarness(t, "sqlite")
	alice := h.register("alice@example.com")
	seen := make(chan string, 40)
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 5; j++ {
				c, err := h.keys.Create(context.Background(), apikeys.Params{UserID: alice.User.ID, Name: "k"})
				if err != nil {
					t.Error(err)
					return
				}
				seen <- c.Secret
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	close(seen)
	uniq := map[string]bool{}
	for s := range seen {
		uniq[s] = true
	}
	if len(uniq) != 40 {
		t.Fatalf("%d distinct keys of 40", len(uniq))
	}
}

// A user holds at most MaxKeysPerUser live keys; revoking one frees a place.
func TestTooManyKeys(t *testing.T) {
	h := newHarness(t, "sqlite")
	alice := h.register("alice@example.com")
	ctx := context.Background()
	var first string
	for i := 0; i < apikeys.MaxKeysPerUser; i++ {
		c, err := h.keys.Create(ctx, apikeys.Params{UserID: alice.User.ID, Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = c.ID
		}
	}
	h.do("POST", "/auth/api-keys", map[string]any{"name": "one more"}, bearer(alice.AccessToken)...).expectError(t, 409, "too_many_keys")
	if err := h.keys.Revoke(ctx, alice.User.ID, first); err != nil {
		t.Fatal(err)
	}
	h.createKey(alice.AccessToken, map[string]any{"name": "one more"})
}
