package flags

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/middleware"
)

// AdminRoutes are the admin routes, which the kernel mounts at
// /admin/flags; every one needs a signed-in admin (401, else 403):
//
//	GET    /            every flag, sorted by name
//	PUT    /{name}      create or replace a flag: {"enabled", "rollout_percent", "workspaces", "users"} → 200 with the flag
//	DELETE /{name}      delete a flag → 204 (404 when there is none)
func (s *Service) AdminRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(auth.RequireAdmin)
	r.Get("/", s.listFlags)
	r.Put("/{name}", s.putFlag)
	r.Delete("/{name}", s.deleteFlag)
	return r
}

// Routes are the routes of every signed-in caller, which the kernel
// mounts at /flags:
//
//	GET /    every flag evaluated for the caller: {"name": true|false, …}
func (s *Service) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(auth.RequireUser)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, s.Evaluate(ForContext(r.Context())))
	})
	return r
}

// listResponse is the body of GET /admin/flags.
type listResponse struct {
	Flags []Flag `json:"flags"`
}

func (s *Service) listFlags(w http.ResponseWriter, r *http.Request) {
	list, err := s.List(r.Context())
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, listResponse{Flags: list})
}

// putRequest is the body of PUT /admin/flags/{name}; absent fields are
// false, 0 and empty lists.
type putRequest struct {
	Enabled        bool     `json:"enabled"`
	RolloutPercent int      `json:"rollout_percent"`
	Workspaces     []string `json:"workspaces"`
	Users          []string `json:"users"`
}

func (s *Service) putFlag(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	var req putRequest
	if err := middleware.DecodeJSON(r, &req); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	err := s.Set(r.Context(), name, Flag{Enabled: req.Enabled, RolloutPercent: req.RolloutPercent,
		Workspaces: req.Workspaces, Users: req.Users})
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	f, err := s.Get(r.Context(), name)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, f)
}

func (s *Service) deleteFlag(w http.ResponseWriter, r *http.Request) {
	if err := s.Delete(r.Context(), chi.URLParam(r, "name")); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
