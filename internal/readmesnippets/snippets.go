//lint:file-ignore SA4006,SA5001 the snippets show calls, not error handling

// Package readmesnippets holds the Go snippets of the README inside
// functions that declare what each snippet takes from its surroundings, so
// that the compiler checks them; readme_test.go checks that every Go block
// of the README (but the quick start, which is examples/widgets itself)
// appears here verbatim. Nothing here is meant to run.
package readmesnippets

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/admin"
	"appkernel/auth"
	"appkernel/cache"
	"appkernel/db"
	"appkernel/flags"
	"appkernel/jobs"
	"appkernel/middleware"
)

// Configuration: "In Go, set fields after ConfigFromEnv or DefaultConfig".
func Configuration(ctx context.Context, tasks *jobs.Registry) {
	cfg := appkernel.DefaultConfig()
	cfg.DatabaseURL = "postgres://app@db:5432/app"
	cfg.Jobs = tasks // a *jobs.Registry
	k, err := appkernel.New(ctx, cfg)

	_, _ = k, err
}

// EntityStore: the entity store's tour.
func EntityStore(ctx context.Context, id string) {
	store, err := db.Open(ctx, "sqlite:///./data/app.db")
	w, err := store.SaveEntity(ctx, "widgets", map[string]any{"name": "gear", "size": 3})
	w, err = store.SaveEntity(ctx, "widgets", map[string]any{"id": w["id"], "size": 4}) // merge-update
	got, err := store.GetEntity(ctx, "widgets", w["id"].(string))                       // db.ErrNotFound when absent
	list, err := store.FindEntities(ctx, "widgets", db.Query{
		Where: "[size] > ? AND [name] LIKE ?", Params: []any{2, "g%"},
		OrderBy: "[created_at] DESC", Limit: 20,
	})
	n, err := store.CountEntities(ctx, "widgets", "[size] > ?", 2)
	ok, err := store.DeleteEntity(ctx, "widgets", id, false) // soft; true deletes the row
	versions, err := store.History(ctx, "widgets", id)       // oldest first
	err = store.Tx(ctx, func(tx *db.Store) error {           // an error or a panic rolls back
		_, err := tx.SaveEntity(ctx, "widgets", map[string]any{"name": "cog"})
		return err
	})
	err = store.EnsureIndex(ctx, "widgets", []string{"owner_id", "created_at"}, false)
	store.OnChange(func(ctx context.Context, c db.Change) { /* audit: c.Op, c.Table, c.ID, c.Old, c.New */ })

	type Widget struct {
		ID    string `json:"id,omitempty"`
		Name  string `json:"name"`
		Color string `json:"color"`
	}
	saved, err := db.Save(ctx, store, "widgets", Widget{Name: "gear", Color: "red"})
	one, err := db.Get[Widget](ctx, store, "widgets", saved.ID)
	all, err := db.Find[Widget](ctx, store, "widgets", db.Query{Limit: 100})

	_, _, _, _, _, _, _, _ = got, list, n, ok, versions, one, all, err
}

// Identity: the signed-in user in a handler.
func Identity(k *appkernel.Kernel) {
	r := chi.NewRouter()
	r.Use(auth.RequireUser) // 401 without a valid token; auth.RequireAdmin for 403 on non-admins
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		user, _ := auth.UserFrom(r.Context()) // auth.User{ID, Email, Role, IsActive, WorkspaceID}
		middleware.WriteJSON(w, http.StatusOK, user)
	})
	k.Mount("/me", r)
}

// Email stands for an app's own payload.
type Email struct{ To, Subject string }

// Jobs: an enqueue and a status.
func Jobs(ctx context.Context, k *appkernel.Kernel, userID string) {
	info, err := k.Jobs().Enqueue(ctx, "send_email", Email{To: "a@example.com"},
		jobs.WithUser(userID), jobs.WithDelay(time.Minute), jobs.WithUnique("welcome:"+userID, time.Hour))
	st, err := k.Jobs().Status(ctx, info.ID) // scheduled, pending, running, retrying, succeeded, dead; attempts, last error, result

	_, _ = st, err
}

// LongForm: the quick start without appkernel.Main.
func LongForm(ctx context.Context, tasks *jobs.Registry, Routes func(*appkernel.Kernel) http.Handler) {
	cfg, err := appkernel.ConfigFromEnv()
	cfg.Name = "widget_service"
	cfg.Jobs = tasks // a *jobs.Registry with the tasks registered
	k, err := appkernel.New(ctx, cfg)
	defer k.Close()
	k.Mount("/widgets", Routes(k))
	err = k.ListenAndServe(ctx, ":8000") // ctx from signal.NotifyContext; appkernel.RunWorker(ctx, cfg) for the worker

	_ = err
}

// Widget is the app's entity in the caching snippet.
type Widget struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// Caching: GetOrLoad.
func Caching(ctx context.Context, k *appkernel.Kernel, id string) {
	w, err := cache.GetOrLoad(ctx, k.Cache(), "widget:"+id, time.Minute, func(ctx context.Context) (Widget, error) {
		return db.Get[Widget](ctx, k.DB(), "widgets", id)
	})

	_, _ = w, err
}

// APIKeys: scopes on an app's routes.
func APIKeys(r chi.Router, req *http.Request, listWidgets, createWidget http.HandlerFunc) {
	read, write := auth.RequireScope("widgets:read"), auth.RequireScope("widgets:write")
	r.With(read).Get("/", listWidgets)
	r.With(write).Post("/", createWidget)
	// In a handler: who is calling, and may it write?
	p, _ := auth.PrincipalFrom(req.Context()) // Type "api_key", UserID, KeyID, Scopes, WorkspaceID
	canWrite := p.HasScope("widgets:write")   // always true for a user's access token

	_ = canWrite
}

// OAuthProviders: a named OpenID Connect provider.
func OAuthProviders(cfg appkernel.Config, secret string) {
	cfg.OAuthProviders = map[string]appkernel.OAuthProvider{
		"keycloak": {ClientID: "app", ClientSecret: secret, IssuerURL: "https://sso.example.com/realms/main"},
	}
	cfg.PublicURL = "https://api.example.com"

	_ = cfg
}

// FeatureFlags: the "Feature flags" section.
func FeatureFlags(ctx context.Context, k *appkernel.Kernel, r *http.Request) {
	// In a handler: from memory, no I/O.
	if k.Flags().Enabled("checkout.v2", flags.ForContext(r.Context())) {
		// the new checkout
	}
	// From Go (admins can PUT /admin/flags/checkout.v2 instead):
	err := k.Flags().Set(ctx, "checkout.v2", flags.Flag{
		Enabled:        true,
		RolloutPercent: 10,                // 10 % of users, always the same ones
		Users:          []string{"0193…"}, // and these users
		Workspaces:     []string{"0193…"}, // and everyone in these workspaces
	})

	_ = err
}

// AdminTrackUsage: TrackUsage in a handler.
func AdminTrackUsage(r *http.Request, u auth.User) {
	err := admin.TrackUsage(r.Context(), "widget_service", u.ID, u.WorkspaceID, map[string]int64{"tokens": 1500})

	_ = err
}

// PeriodicJobs: the "Background jobs" section's periodic tasks.
func PeriodicJobs(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry, purgeSessions, sendReport jobs.Handler, paris *time.Location) {
	tasks.Periodic("purge_sessions", "*/5 * * * *", purgeSessions)                                       // every 5 minutes, UTC
	tasks.Periodic("daily_report", "0 9 * * 1-5", sendReport, jobs.TimeZone(paris), jobs.MaxAttempts(3)) // 09:00 in Paris, weekdays
	schedules, err := k.Jobs().Schedules(ctx)                                                            // last and next run of each

	_, _ = schedules, err
}

// AdminQueries: reading the audit trail and usage.
func AdminQueries(ctx context.Context, adminDB *db.Store, id, workspaceID string) {
	page, err := admin.AuditLogs(ctx, adminDB, admin.AuditQuery{Entity: "widgets", EntityID: id, Limit: 20})
	more, err := admin.AuditLogs(ctx, adminDB, admin.AuditQuery{Entity: "widgets", EntityID: id, Limit: 20, Cursor: page.NextCursor})
	// Usage is never purged: it is billing data.
	purged, err := admin.PurgeAudit(ctx, adminDB, time.Now().AddDate(0, -6, 0))
	// {"requests": 42, "tokens": 1500}
	usage, err := admin.Usage(ctx, adminDB, "widget_service", workspaceID, "2026-12")
	ok, err := admin.CheckQuota(ctx, adminDB, "widget_service", workspaceID, "tokens", 1_000_000)
	quotas := admin.NewQuotas(adminDB, 5*time.Second) // for every request: one read per workspace and metric per 5 s
	ok, err = quotas.Check(ctx, "widget_service", workspaceID, "tokens", 1_000_000)

	_, _, _, _, _, _ = more, purged, usage, ok, err, quotas
}
