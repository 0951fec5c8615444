package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
	"appkernel/workspaces"
)

// RoutesConfig configures Routes and WorkspaceRoutes.
type RoutesConfig struct {
	// DB is the admin database the routes read. Required.
	DB *db.Store
	// App is the service's name: the app whose audit and usage the routes
	// show unless the request names another with ?app=.
	App string
}

// Routes returns the admins' read routes, to mount at /admin behind the
// kernel's authentication; every route answers 401 without an identity
// and 403 "forbidden" to a user who is not an admin (auth.RequireAdmin):
//
//	GET /audit   ?app= &entity= &entity_id= &user_id= &workspace_id=
//	             &since= &until= (RFC 3339) &limit= &cursor=
//	             → {"entries": [...], "next_cursor": "…"} newest first (AuditLogs)
//	GET /usage   ?workspace_id= (required) &period= (2026-12 or 2026-12-06; this month by default) &app=
//	             → {"app", "workspace_id", "period", "usage": {"requests": n, …}} (Usage)
//
// A malformed parameter is 400 "invalid_query".
func Routes(cfg RoutesConfig) http.Handler {
	r := chi.NewRouter()
	r.Use(auth.RequireAdmin)
	r.Get("/audit", cfg.handleAudit)
	r.Get("/usage", func(w http.ResponseWriter, r *http.Request) {
		ws := r.URL.Query().Get("workspace_id")
		if ws == "" {
			writeQueryError(w, r, fmt.Errorf("%w: workspace_id is required", ErrInvalidQuery))
			return
		}
		cfg.writeUsage(w, r, ws)
	})
	return r
}

// WorkspaceRoutes returns the routes a workspace's owner reads its own
// usage with, for ws.Extend (they live under /workspaces/{id}, behind
// RequireMember: outsiders get 404):
//
//	GET /workspaces/{id}/usage?period=2026-12   owners only (403 for other members)
//
// The answer is that of GET /admin/usage for the workspace.
func WorkspaceRoutes(cfg RoutesConfig, ws *workspaces.Service) func(chi.Router) {
	return func(r chi.Router) {
		r.With(ws.RequireRole(workspaces.RoleOwner)).Get("/usage", func(w http.ResponseWriter, r *http.Request) {
			id, _ := workspaces.WorkspaceIDFrom(r.Context())
			cfg.writeUsage(w, r, id)
		})
	}
}

// UsageResponse is the body of the usage routes.
type UsageResponse struct {
	App         string           `json:"app"`
	WorkspaceID string           `json:"workspace_id"`
	Period      string           `json:"period"`
	Usage       map[string]int64 `json:"usage"`
}

func (cfg RoutesConfig) app(r *http.Request) string {
	if a := r.URL.Query().Get("app"); a != "" {
		return a
	}
	return cfg.App
}

func (cfg RoutesConfig) writeUsage(w http.ResponseWriter, r *http.Request, workspaceID string) {
	period := r.URL.Query().Get("period")
	if period == "" {
		period = MonthPeriod(time.Now())
	}
	app := cfg.app(r)
	usage, err := Usage(r.Context(), cfg.DB, app, workspaceID, period)
	if err != nil {
		writeQueryError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, UsageResponse{App: app, WorkspaceID: workspaceID, Period: period, Usage: usage})
}

func (cfg RoutesConfig) handleAudit(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query()
	q := AuditQuery{
		App:         cfg.app(r),
		Entity:      p.Get("entity"),
		EntityID:    p.Get("entity_id"),
		UserID:      p.Get("user_id"),
		WorkspaceID: p.Get("workspace_id"),
		Cursor:      p.Get("cursor"),
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := p.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeQueryError(w, r, fmt.Errorf("%w: %s must be an RFC 3339 time (2026-12-06T10:00:00Z)", ErrInvalidQuery, t.name))
				return
			}
			*t.dst = at
		}
	}
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeQueryError(w, r, fmt.Errorf("%w: limit must be a positive integer", ErrInvalidQuery))
			return
		}
		q.Limit = n
	}
	page, err := AuditLogs(r.Context(), cfg.DB, q)
	if err != nil {
		writeQueryError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, page)
}

// writeQueryError answers ErrInvalidQuery with 400 "invalid_query" and
// its reason, anything else as middleware.WriteError does.
func writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrInvalidQuery) {
		msg := strings.TrimPrefix(err.Error(), ErrInvalidQuery.Error()+": ")
		middleware.WriteError(w, r, &middleware.Error{Status: http.StatusBadRequest, Code: "invalid_query", Message: msg, Err: err})
		return
	}
	middleware.WriteError(w, r, err)
}
