package apikeys

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/middleware"
)

// Routes returns the router the kernel mounts at /auth/api-keys, behind
// auth.Service.Authenticate:
//
//	POST   /      {"name","scopes","expires_in_days"?,"workspace_id"?} → 201 Created (with "key", shown once)
//	GET    /                                                           → 200 [Key] (no secrets)
//	DELETE /{id}                                                       → 204
//
// Every route needs a user's access token: an API key cannot create, list
// or revoke keys (403). A key bound to a workspace needs its owner or an
// admin. Another user's key id answers 404, as an unknown one.
func (s *Service) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(auth.RequireUser, requireAccessToken)
	r.Post("/", s.handleCreate)
	r.Get("/", s.handleList)
	r.Delete("/{id}", s.handleRevoke)
	return r
}

// requireAccessToken refuses requests authenticated by an API key.
func requireAccessToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, _ := auth.PrincipalFrom(r.Context()); p.Type != auth.PrincipalUser {
			middleware.WriteError(w, r, ErrAccessTokenRequired)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type createInput struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	ExpiresInDays int      `json:"expires_in_days"`
	WorkspaceID   string   `json:"workspace_id"`
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in createInput
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	maxDays := int(MaxExpiresIn / (24 * time.Hour))
	if in.ExpiresInDays < 0 || in.ExpiresInDays > maxDays {
		middleware.WriteError(w, r, invalid("expires_in_days must be between 1 and 3650, or absent for a key that never expires"))
		return
	}
	u, _ := auth.UserFrom(r.Context())
	c, err := s.Create(r.Context(), Params{
		UserID:      u.ID,
		WorkspaceID: in.WorkspaceID,
		Name:        in.Name,
		Scopes:      in.Scopes,
		ExpiresIn:   time.Duration(in.ExpiresInDays) * 24 * time.Hour,
	})
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	middleware.WriteJSON(w, http.StatusCreated, c)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	keys, err := s.List(r.Context(), u.ID)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, keys)
}

func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	if err := s.Revoke(r.Context(), u.ID, chi.URLParam(r, "id")); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
