package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/flags"
	"appkernel/middleware"
)

// StatsFlag is the feature flag of GET /stats, a feature in preview. An
// admin turns it on for some users, workspaces or a share of everyone:
//
//	PUT /admin/flags/widgets.stats {"enabled": true, "rollout_percent": 10, "users": ["<id>"]}
const StatsFlag = "widgets.stats"

// StatsRoutes serve GET /stats: the caller's widgets counted by color,
// {"total": 3, "by_color": {"blue": 2, "red": 1}}. For a caller the flag
// is off for, the route does not exist (404).
func StatsRoutes(k *appkernel.Kernel) http.Handler {
	store, fl := k.DB(), k.Flags()
	r := chi.NewRouter()
	r.Use(auth.RequireUser)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		// In memory: no I/O, about a tenth of a microsecond.
		if !fl.Enabled(StatsFlag, flags.ForContext(r.Context())) {
			middleware.NotFound(w, r)
			return
		}
		user, _ := auth.UserFrom(r.Context())
		list, err := db.Find[Widget](r.Context(), store, "widgets", db.Query{Where: "[owner_id] = ?", Params: []any{user.ID}})
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		byColor := map[string]int{}
		for _, wdg := range list {
			byColor[wdg.Color]++
		}
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"total": len(list), "by_color": byColor})
	})
	return r
}
