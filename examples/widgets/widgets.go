package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/jobs"
	"appkernel/middleware"
)

// Widget is what a user owns.
type Widget struct {
	ID        string `json:"id,omitempty"`
	OwnerID   string `json:"owner_id"`
	Name      string `json:"name"`
	Color     string `json:"color"`
	Status    string `json:"status,omitempty"` // "processed" once process_document ran
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// DefaultColor is the color of a widget created without one.
const DefaultColor = "blue"

// Routes are the widget routes; every one needs a signed-in user. A caller
// with an API key also needs its scope: widgets:read to read, widgets:write
// to create and process (users with an access token pass).
func Routes(k *appkernel.Kernel) http.Handler {
	store := k.DB()
	read, write := auth.RequireScope("widgets:read"), auth.RequireScope("widgets:write")
	r := chi.NewRouter()
	r.Use(auth.RequireUser)
	r.With(write).Post("/", createWidget(store))
	r.With(read).Get("/", listWidgets(store))
	r.With(read).Get("/{id}", getWidget(store))
	r.With(write).Post("/{id}/process", processWidget(store, k.Jobs()))
	return r
}

// createRequest is the body of POST /widgets: {"name": "gear", "color": "red"}.
// Any other field is refused (400 invalid_json).
type createRequest struct {
	Name  string  `json:"name"`
	Color *string `json:"color"` // absent or null: DefaultColor
}

func createWidget(store *db.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, _ := auth.UserFrom(r.Context())
		var req createRequest
		if err := middleware.DecodeJSON(r, &req); err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		wdg, err := newWidget(user.ID, req)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		saved, err := db.Save(r.Context(), store, "widgets", wdg)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusCreated, saved)
	}
}

// newWidget validates a create request: a name of 1 to 200 characters
// (spaces around it dropped) and a color of 1 to 32 letters a-z, any case,
// stored lower-case ("Red" is "red").
func newWidget(ownerID string, req createRequest) (Widget, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return Widget{}, middleware.NewError(http.StatusUnprocessableEntity, "validation_error", "name must be 1 to 200 characters")
	}
	color := DefaultColor
	if req.Color != nil {
		if !isColor(*req.Color) {
			return Widget{}, middleware.NewError(http.StatusUnprocessableEntity, "validation_error", "color must be 1 to 32 letters a-z, such as \"red\"")
		}
		color = strings.ToLower(*req.Color)
	}
	return Widget{OwnerID: ownerID, Name: name, Color: color}, nil
}

// isColor reports whether s is 1 to 32 ASCII letters.
func isColor(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func listWidgets(store *db.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, _ := auth.UserFrom(r.Context())
		limit, err := intParam(r, "limit", 100, 1, 1000)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		offset, err := intParam(r, "offset", 0, 0, 1<<31-1)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		list, err := db.Find[Widget](r.Context(), store, "widgets", db.Query{
			Where:   "[owner_id] = ?",
			Params:  []any{user.ID},
			OrderBy: "[created_at] DESC, [id] DESC",
			Limit:   limit,
			Offset:  offset,
		})
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		if list == nil {
			list = []Widget{}
		}
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"widgets": list, "limit": limit, "offset": offset})
	}
}

func getWidget(store *db.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wdg, err := ownWidget(r.Context(), store, r)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, wdg)
	}
}

func processWidget(store *db.Store, jc *jobs.Client) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wdg, err := ownWidget(r.Context(), store, r)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		user, _ := auth.UserFrom(r.Context())
		info, err := jc.Enqueue(r.Context(), "process_document", DocumentPayload{WidgetID: wdg.ID},
			jobs.WithUser(user.ID), jobs.WithUnique("process:"+wdg.ID, time.Minute))
		switch {
		case errors.Is(err, jobs.ErrNoBackend):
			middleware.WriteErrorCode(w, r, http.StatusServiceUnavailable, "jobs_unavailable", "background jobs need REDIS_URL")
			return
		case err != nil && !errors.Is(err, jobs.ErrDuplicate):
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusAccepted, map[string]any{"job_id": info.ID, "state": info.State})
	}
}

// ownWidget loads the widget of the route's {id} when the caller owns it;
// someone else's widget is "not found", like one that does not exist.
func ownWidget(ctx context.Context, store *db.Store, r *http.Request) (Widget, error) {
	user, _ := auth.UserFrom(ctx)
	wdg, err := db.Get[Widget](ctx, store, "widgets", chi.URLParam(r, "id"))
	if err == nil && wdg.OwnerID != user.ID {
		err = db.ErrNotFound
	}
	if errors.Is(err, db.ErrNotFound) {
		return Widget{}, middleware.NewError(http.StatusNotFound, "not_found", "widget not found")
	}
	return wdg, err
}

func intParam(r *http.Request, name string, def, min, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, middleware.Errorf(http.StatusBadRequest, "invalid_parameter", "%s must be a whole number from %d to %d", name, min, max)
	}
	return n, nil
}
