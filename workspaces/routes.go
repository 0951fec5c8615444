package workspaces

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/middleware"
)

// Routes returns the workspace API, to be mounted at /workspaces behind the
// authentication middleware (auth.Service.Authenticate). Every route needs a
// user (401 otherwise):
//
//	POST   /                          {"name"} → 201 workspace, caller is owner
//	GET    /                          → 200 the caller's workspaces, each with the caller's role
//	GET    /{id}                      → 200 workspace (members only)
//	GET    /{id}/members              → 200 members (members only)
//	POST   /{id}/invite               {"email","role"} → 201 invite with its token (owners, admins)
//	DELETE /{id}/members/{user_id}    → 204 (owners, admins, or a member leaving)
//	GET    /{id}/invites              → 200 open invites, without tokens (owners, admins)
//	DELETE /{id}/invites/{invite_id}  → 204 the invite is revoked (owners, admins)
//	POST   /join                      {"token"} → 200 the caller's new membership
//	POST   /join/{token}              → 200 the same, the token in the path
//
// Prefer POST /join with the token in the body: request bodies stay out of
// access logs, paths do not. The path form is kept for compatibility and
// for links; its token reaches any access log that does not redact it.
//
// A workspace the caller is not a member of is 404 "not_found" on every
// route, like one that does not exist.
func (s *Service) Routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteErrorCode(w, r, http.StatusNotFound, "not_found", "not found")
	})
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Use(redactJoinToken, auth.RequireUser)
	r.Post("/", s.handleCreate)
	r.Get("/", s.handleList)
	r.Post("/join", s.handleJoinBody)
	r.Post("/join/{token}", s.handleJoin)
	r.Route("/{id}", func(r chi.Router) {
		r.Use(s.RequireMember)
		r.Get("/", s.handleGet)
		r.Get("/members", s.handleMembers)
		r.With(s.RequireRole(RoleAdmin)).Post("/invite", s.handleInvite)
		r.Delete("/members/{user_id}", s.handleRemoveMember)
		r.With(s.RequireRole(RoleAdmin)).Get("/invites", s.handleListInvites)
		r.With(s.RequireRole(RoleAdmin)).Delete("/invites/{invite_id}", s.handleRevokeInvite)
		s.extMu.Lock()
		for _, fn := range s.extensions {
			fn(r)
		}
		s.extMu.Unlock()
	})
	return r
}

// Extend adds routes of another feature under /{id}: fn is given the
// router of one workspace, behind RequireMember (so WorkspaceIDFrom and
// RoleFrom answer, and outsiders get 404), and may add RequireRole itself.
// Call Extend before Routes; a feature's routes there look like the
// workspace's own (e.g. /workspaces/{id}/webhooks).
func (s *Service) Extend(fn func(r chi.Router)) {
	s.extMu.Lock()
	defer s.extMu.Unlock()
	s.extensions = append(s.extensions, fn)
}

// user returns the authenticated user; auth.RequireUser runs before every
// handler, so it is always there.
func user(r *http.Request) auth.User {
	u, _ := auth.UserFrom(r.Context())
	return u
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	ws, err := s.Create(r.Context(), user(r).ID, in.Name)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusCreated, ws)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	list, err := s.ListForUser(r.Context(), user(r).ID)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, list)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	ws, err := s.Get(r.Context(), user(r).ID, chi.URLParam(r, "id"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, ws)
}

func (s *Service) handleMembers(w http.ResponseWriter, r *http.Request) {
	list, err := s.Members(r.Context(), user(r).ID, chi.URLParam(r, "id"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, list)
}

func (s *Service) handleInvite(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	inv, err := s.Invite(r.Context(), user(r).ID, chi.URLParam(r, "id"), in.Email, in.Role)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusCreated, inv)
}

func (s *Service) handleListInvites(w http.ResponseWriter, r *http.Request) {
	list, err := s.ListInvites(r.Context(), user(r).ID, chi.URLParam(r, "id"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, list)
}

func (s *Service) handleRevokeInvite(w http.ResponseWriter, r *http.Request) {
	err := s.RevokeInvite(r.Context(), user(r).ID, chi.URLParam(r, "id"), chi.URLParam(r, "invite_id"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleRemoveMember(w http.ResponseWriter, r *http.Request) {
	err := s.RemoveMember(r.Context(), user(r).ID, chi.URLParam(r, "id"), chi.URLParam(r, "user_id"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// redactJoinToken keeps the invite token of /join/{token} out of the
// access line, whatever answers the request: the handler, or before it
// RequireUser (401), the router (404, 405).
func redactJoinToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
			path = rctx.RoutePath // the path below this router's mount point
		}
		if rest, ok := strings.CutPrefix(path, "/join/"); ok && rest != "" {
			prefix, ok := strings.CutSuffix(r.URL.Path, path)
			if !ok {
				prefix = ""
			}
			middleware.RedactPath(r.Context(), prefix+"/join/[redacted]")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Service) handleJoin(w http.ResponseWriter, r *http.Request) {
	m, err := s.Join(r.Context(), user(r), chi.URLParam(r, "token"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, m)
}

func (s *Service) handleJoinBody(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	if in.Token == "" {
		middleware.WriteError(w, r, invalid("token is required"))
		return
	}
	m, err := s.Join(r.Context(), user(r), in.Token)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, m)
}
