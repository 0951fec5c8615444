package apikeys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"appkernel/db"
)

// Table holds the keys. History is off: it holds key hashes.
const Table = "api_keys"

// Limits of Params.
const (
	MaxNameLen     = 100                   // characters of Params.Name
	MaxScopes      = 32                    // entries of Params.Scopes
	MaxScopeLen    = 64                    // characters of one scope
	MaxExpiresIn   = 3650 * 24 * time.Hour // ten years
	MaxKeysPerUser = 100                   // live (unrevoked) keys per user
)

// Params describe a key to create.
type Params struct {
	// UserID is the key's owner: the key authenticates as this user.
	// Required.
	UserID string
	// WorkspaceID binds the key to one workspace: it acts there only.
	// Defaults to "": the key acts like its owner's access token (personal
	// workspace, or the one X-Workspace-ID names). Create does not check
	// the owner's role there; the HTTP route and Service.Create do.
	WorkspaceID string
	// Name says what the key is for (1 to MaxNameLen characters). Required.
	Name string
	// Scopes the key holds (see auth.RequireScope): lowercase letters,
	// digits and "_-.:*", starting with a letter, e.g. "widgets:read". At
	// most MaxScopes. Defaults to none.
	Scopes []string
	// ExpiresIn is the key's lifetime, at most MaxExpiresIn. Defaults to 0:
	// the key never expires.
	ExpiresIn time.Duration
}

// Key is a stored key as its owner sees it: never its secret or hash.
type Key struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"` // the key's first characters, to recognise it
	Scopes      []string   `json:"scopes"`
	UserID      string     `json:"user_id"`
	WorkspaceID string     `json:"workspace_id,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Created is a new key with its secret, which is shown this once.
type Created struct {
	Key
	// Secret is the key itself ("sk_live_…"), to give to the caller now:
	// only its hash is stored.
	Secret string `json:"key"`
}

// columns are the table's columns, typed, declared at start-up.
var columns = db.Entity{
	"user_id": "", "workspace_id": "", "name": "", "prefix": "", "key_hash": "",
	"scopes": "", "expires_at": "", "revoked_at": "", "last_used_at": "",
}

// Init creates the table's columns and indexes and turns its history off.
// Service's New calls it; call it yourself before using the functions
// alone on a store.
func Init(ctx context.Context, store *db.Store) error {
	store.DisableHistory(Table)
	if err := store.EnsureColumns(ctx, Table, columns); err != nil {
		return fmt.Errorf("apikeys: columns: %w", err)
	}
	if err := store.EnsureIndex(ctx, Table, []string{"key_hash"}, true); err != nil {
		return fmt.Errorf("apikeys: index: %w", err)
	}
	if err := store.EnsureIndex(ctx, Table, []string{"user_id"}, false); err != nil {
		return fmt.Errorf("apikeys: index: %w", err)
	}
	return nil
}

// Create stores a new key for p.UserID and returns it with its secret,
// the only time the secret is available. Errors: ErrInvalidParams,
// ErrTooManyKeys.
func Create(ctx context.Context, store *db.Store, p Params) (Created, error) {
	return create(ctx, store, p, time.Now())
}

func create(ctx context.Context, store *db.Store, p Params, now time.Time) (Created, error) {
	scopes, err := p.check()
	if err != nil {
		return Created{}, err
	}
	n, err := store.CountEntities(ctx, Table, "[user_id] = ? AND [revoked_at] = ?", p.UserID, "")
	if err != nil {
		return Created{}, fmt.Errorf("apikeys: count keys: %w", err)
	}
	if n >= MaxKeysPerUser {
		return Created{}, ErrTooManyKeys
	}
	secret, err := newKey()
	if err != nil {
		return Created{}, err
	}
	expires := ""
	if p.ExpiresIn > 0 {
		expires = db.FormatTime(now.Add(p.ExpiresIn))
	}
	e, err := store.SaveEntity(ctx, Table, db.Entity{
		"user_id":      p.UserID,
		"workspace_id": p.WorkspaceID,
		"name":         strings.TrimSpace(p.Name),
		"prefix":       secret[:displayLen],
		"key_hash":     hashKey(secret),
		"scopes":       strings.Join(scopes, " "),
		"expires_at":   expires,
		"revoked_at":   "",
		"last_used_at": "",
	})
	if err != nil {
		return Created{}, fmt.Errorf("apikeys: save key: %w", err)
	}
	return Created{Key: keyFrom(e), Secret: secret}, nil
}

// check validates p and returns its scopes deduplicated, in order.
func (p Params) check() ([]string, error) {
	if p.UserID == "" {
		return nil, invalid("user_id is required")
	}
	name := strings.TrimSpace(p.Name)
	switch {
	case name == "":
		return nil, invalid("name is required")
	case utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name):
		return nil, invalid(fmt.Sprintf("name must be at most %d characters", MaxNameLen))
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, invalid("name must not contain control characters")
	}
	if len(p.WorkspaceID) > 128 || strings.ContainsFunc(p.WorkspaceID, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) {
		return nil, invalid("workspace_id is not a workspace id")
	}
	if p.ExpiresIn < 0 || p.ExpiresIn > MaxExpiresIn {
		return nil, invalid(fmt.Sprintf("expiry must be between 1 and %d days, or none", int(MaxExpiresIn/(24*time.Hour))))
	}
	if len(p.Scopes) > MaxScopes {
		return nil, invalid(fmt.Sprintf("at most %d scopes", MaxScopes))
	}
	scopes := make([]string, 0, len(p.Scopes))
	for _, s := range p.Scopes {
		if !validScope(s) {
			return nil, invalid(fmt.Sprintf("scope %q is invalid: use lowercase letters, digits and _-.:* starting with a letter, at most %d characters (e.g. widgets:read)", truncate(s, MaxScopeLen), MaxScopeLen))
		}
		if !contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes, nil
}

func validScope(s string) bool {
	if s == "" || len(s) > MaxScopeLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_-.:*", c) >= 0) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// List returns the live (unrevoked) keys of userID, newest first, without
// secrets or hashes.
func List(ctx context.Context, store *db.Store, userID string) ([]Key, error) {
	es, err := store.FindEntities(ctx, Table, db.Query{
		Where:   "[user_id] = ? AND [revoked_at] = ?",
		Params:  []any{userID, ""},
		OrderBy: "[created_at] DESC",
		Limit:   MaxKeysPerUser,
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("apikeys: list keys: %w", err)
	}
	keys := make([]Key, 0, len(es))
	for _, e := range es {
		keys = append(keys, keyFrom(e))
	}
	return keys, nil
}

// Revoke revokes the key id of userID: it stops authenticating at once in
// this process and, through a Service, within its CacheTTL everywhere
// (sooner with Redis). Error: ErrNotFound when userID has no live key id.
// Revoke the keys of a running server with Service.Revoke, which also
// clears its cache.
func Revoke(ctx context.Context, store *db.Store, userID, id string) error {
	_, err := revoke(ctx, store, userID, id, time.Now())
	return err
}

// revoke marks the key revoked and returns its hash.
func revoke(ctx context.Context, store *db.Store, userID, id string, now time.Time) (string, error) {
	var hash string
	err := store.Tx(ctx, func(tx *db.Store) error {
		e, err := tx.GetEntity(ctx, Table, id)
		if errors.Is(err, db.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if str(e, "user_id") != userID || str(e, "revoked_at") != "" {
			return ErrNotFound
		}
		hash = str(e, "key_hash")
		_, err = tx.SaveEntity(ctx, Table, db.Entity{"id": id, "revoked_at": db.FormatTime(now)})
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("apikeys: revoke key: %w", err)
	}
	return hash, err
}

func keyFrom(e db.Entity) Key {
	k := Key{
		ID:          str(e, "id"),
		Name:        str(e, "name"),
		Prefix:      str(e, "prefix"),
		Scopes:      splitScopes(str(e, "scopes")),
		UserID:      str(e, "user_id"),
		WorkspaceID: str(e, "workspace_id"),
		ExpiresAt:   timeOf(e, "expires_at"),
		LastUsedAt:  timeOf(e, "last_used_at"),
		RevokedAt:   timeOf(e, "revoked_at"),
	}
	if t := timeOf(e, "created_at"); t != nil {
		k.CreatedAt = *t
	}
	return k
}

func splitScopes(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, " ")
}

func str(e db.Entity, key string) string {
	s, _ := e[key].(string)
	return s
}

func timeOf(e db.Entity, key string) *time.Time {
	t, err := time.Parse(db.TimeFormat, str(e, key))
	if err != nil {
		return nil
	}
	return &t
}
