package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"appkernel/db"
)

// The tables of the package. History is off for both: webhooks hold
// secrets, deliveries churn.
const (
	tableWebhooks   = "webhooks"
	tableDeliveries = "webhook_deliveries"
)

// Limits on what Create accepts.
const (
	maxURLLen         = 2048
	maxDescriptionLen = 500
	maxPerWorkspace   = 50
)

// rotationOverlap is how long the previous secret keeps signing after
// RotateSecret, so receivers can switch without dropping a delivery.
const rotationOverlap = 24 * time.Hour

// Webhook is an endpoint registered for a workspace's events. Its secret
// is never part of it: Create and RotateSecret return it once.
type Webhook struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// Enabled is false once the endpoint answered 410 Gone or failed for
	// DispatcherOptions.DisableAfter in a row; DisabledReason says which.
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Options are the optional fields of Create.
type Options struct {
	// Description is a note for the workspace's admins (at most 500
	// characters). Defaults to empty.
	Description string
}

// Init disables history for the package's tables and creates their
// columns and indexes. Call it at start-up, before the first Create or
// Trigger (NewDispatcher's Start calls it); it is idempotent.
func Init(ctx context.Context, store *db.Store) error {
	store.DisableHistory(tableWebhooks, tableDeliveries)
	if err := store.EnsureColumns(ctx, tableWebhooks, db.Entity{
		"workspace_id": "", "url": "", "description": "", "secret": "",
		"previous_secret": "", "previous_secret_until": "", "enabled": true,
		"disabled_reason": "", "failing_since": "",
	}); err != nil {
		return fmt.Errorf("webhooks: init %s: %w", tableWebhooks, err)
	}
	if err := store.EnsureColumns(ctx, tableDeliveries, db.Entity{
		"webhook_id": "", "workspace_id": "", "event": "", "payload": "",
		"state": "", "attempt_count": int64(0), "next_attempt_at": "",
		"lease_until": "", "lease_owner": "", "last_status": int64(0), "last_error": "",
		"attempts": []any{map[string]any{}},
	}); err != nil {
		return fmt.Errorf("webhooks: init %s: %w", tableDeliveries, err)
	}
	for _, ix := range []struct {
		table string
		cols  []string
	}{
		{tableWebhooks, []string{"workspace_id", "enabled"}},
		{tableDeliveries, []string{"state", "next_attempt_at"}},
		{tableDeliveries, []string{"lease_owner"}},
		{tableDeliveries, []string{"webhook_id", "created_at"}},
	} {
		if err := store.EnsureIndex(ctx, ix.table, ix.cols, false); err != nil {
			return fmt.Errorf("webhooks: index %s%v: %w", ix.table, ix.cols, err)
		}
	}
	return nil
}

// ValidateURL checks an endpoint URL: absolute http or https, a host, no
// user:password part, at most 2048 bytes. Errors match ErrInvalid. Where
// the host resolves to is checked when the dispatcher connects.
func ValidateURL(raw string) error {
	if raw == "" {
		return invalid("url is required")
	}
	if len(raw) > maxURLLen {
		return invalid(fmt.Sprintf("url is longer than %d bytes", maxURLLen))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("url is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("url must start with http:// or https://")
	case u.User != nil:
		return invalid("url must not contain a user or password")
	case u.Hostname() == "":
		return invalid("url has no host")
	case u.Opaque != "":
		return invalid("url is not a valid URL")
	}
	return nil
}

func validateDescription(d string) error {
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > maxDescriptionLen {
		return invalid(fmt.Sprintf("description must be valid text of at most %d characters", maxDescriptionLen))
	}
	return nil
}

// Create registers endpoint rawURL for the events of workspaceID and
// returns it with its signing secret, which is not shown again. A bad URL
// or description is an error matching ErrInvalid; so is a workspace that
// already has 50 webhooks.
func Create(ctx context.Context, store *db.Store, workspaceID, rawURL string, opts Options) (Webhook, string, error) {
	store.DisableHistory(tableWebhooks, tableDeliveries)
	if err := ValidateURL(rawURL); err != nil {
		return Webhook{}, "", err
	}
	if err := validateDescription(opts.Description); err != nil {
		return Webhook{}, "", err
	}
	if workspaceID == "" {
		return Webhook{}, "", invalid("workspace id is required")
	}
	n, err := store.CountEntities(ctx, tableWebhooks, "[workspace_id] = ?", workspaceID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return Webhook{}, "", fmt.Errorf("webhooks: count: %w", err)
	}
	if n >= maxPerWorkspace {
		return Webhook{}, "", invalid(fmt.Sprintf("a workspace has at most %d webhooks", maxPerWorkspace))
	}
	secret, err := newSecret()
	if err != nil {
		return Webhook{}, "", err
	}
	e, err := store.SaveEntity(ctx, tableWebhooks, db.Entity{
		"workspace_id": workspaceID,
		"url":          rawURL,
		"description":  opts.Description,
		"secret":       secret,
		"enabled":      true,
	})
	if err != nil {
		return Webhook{}, "", fmt.Errorf("webhooks: create: %w", err)
	}
	return webhookOf(e), secret, nil
}

// List returns the webhooks of workspaceID, oldest first, without secrets.
func List(ctx context.Context, store *db.Store, workspaceID string) ([]Webhook, error) {
	es, err := store.FindEntities(ctx, tableWebhooks, db.Query{
		Where: "[workspace_id] = ?", Params: []any{workspaceID}, OrderBy: "[created_at] ASC", Limit: maxPerWorkspace * 2,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	out := make([]Webhook, 0, len(es))
	for _, e := range es {
		out = append(out, webhookOf(e))
	}
	return out, nil
}

// Get returns webhook id of workspaceID; ErrNotFound when there is none.
func Get(ctx context.Context, store *db.Store, workspaceID, id string) (Webhook, error) {
	e, err := getEntity(ctx, store, workspaceID, id)
	if err != nil {
		return Webhook{}, err
	}
	return webhookOf(e), nil
}

func getEntity(ctx context.Context, store *db.Store, workspaceID, id string) (db.Entity, error) {
	e, err := store.GetEntity(ctx, tableWebhooks, id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && str(e, "workspace_id") != workspaceID) {
		return nil, fmt.Errorf("webhooks: %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("webhooks: get: %w", err)
	}
	return e, nil
}

// Delete removes webhook id of workspaceID; ErrNotFound when there is
// none. Its pending deliveries are dropped by the dispatcher.
func Delete(ctx context.Context, store *db.Store, workspaceID, id string) error {
	if _, err := getEntity(ctx, store, workspaceID, id); err != nil {
		return err
	}
	if _, err := store.DeleteEntity(ctx, tableWebhooks, id, true); err != nil {
		return fmt.Errorf("webhooks: delete: %w", err)
	}
	return nil
}

// RotateSecret gives webhook id a new signing secret and returns it. The
// previous secret keeps signing beside the new one for 24 hours (two v1
// signatures in webhook-signature), so receivers can switch over.
func RotateSecret(ctx context.Context, store *db.Store, workspaceID, id string) (string, error) {
	store.DisableHistory(tableWebhooks, tableDeliveries)
	e, err := getEntity(ctx, store, workspaceID, id)
	if err != nil {
		return "", err
	}
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	if _, err := store.SaveEntity(ctx, tableWebhooks, db.Entity{
		"id":                    id,
		"secret":                secret,
		"previous_secret":       str(e, "secret"),
		"previous_secret_until": db.FormatTime(time.Now().Add(rotationOverlap)),
	}); err != nil {
		return "", fmt.Errorf("webhooks: rotate secret: %w", err)
	}
	return secret, nil
}

// secrets returns the secrets that sign for e now: the current one, and
// the previous one while its overlap lasts.
func secrets(e db.Entity, now time.Time) []string {
	out := []string{str(e, "secret")}
	if prev := str(e, "previous_secret"); prev != "" {
		if until, ok := timeOf(e, "previous_secret_until"); ok && now.Before(until) {
			out = append(out, prev)
		}
	}
	return out
}

func webhookOf(e db.Entity) Webhook {
	created, _ := timeOf(e, "created_at")
	enabled, _ := e["enabled"].(bool)
	return Webhook{
		ID:             str(e, "id"),
		WorkspaceID:    str(e, "workspace_id"),
		URL:            str(e, "url"),
		Description:    str(e, "description"),
		Enabled:        enabled,
		DisabledReason: str(e, "disabled_reason"),
		CreatedAt:      created,
	}
}

func str(e db.Entity, k string) string {
	s, _ := e[k].(string)
	return s
}

func intOf(e db.Entity, k string) int {
	switch v := e[k].(type) {
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

func timeOf(e db.Entity, k string) (time.Time, bool) {
	if t, ok := e[k].(time.Time); ok {
		return t, true
	}
	s := str(e, k)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(db.TimeFormat, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	return t, err == nil
}

// hostOf is the host of an endpoint URL, for logs.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return strings.SplitN(raw, "/", 2)[0]
}
