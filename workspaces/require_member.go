package workspaces

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/middleware"
)

// WorkspaceHeader is the request header naming the workspace a request is
// about, when the route has no workspace parameter.
const WorkspaceHeader = "X-Workspace-ID"

type membershipKey struct{}

// membership is what RequireMember puts in the context.
type membership struct {
	workspaceID string
	role        string
}

// RoleFrom returns the caller's role in the request's workspace, as
// RequireMember found it; false outside RequireMember.
func RoleFrom(ctx context.Context) (string, bool) {
	m, ok := ctx.Value(membershipKey{}).(membership)
	return m.role, ok
}

// WorkspaceIDFrom returns the id of the request's workspace, as
// RequireMember resolved it; false outside RequireMember.
func WorkspaceIDFrom(ctx context.Context) (string, bool) {
	m, ok := ctx.Value(membershipKey{}).(membership)
	return m.workspaceID, ok
}

// WithMembership returns a context in which RoleFrom and WorkspaceIDFrom
// report workspaceID and role, as inside RequireMember. It is for tests and
// for code that checked the membership itself.
func WithMembership(ctx context.Context, workspaceID, role string) context.Context {
	return context.WithValue(ctx, membershipKey{}, membership{workspaceID: workspaceID, role: role})
}

// RequestWorkspaceID returns the workspace a request is about, looked up in
// this order: the route parameter {workspace_id}, the route parameter {id},
// the workspace_id query parameter, the X-Workspace-ID header, and the
// authenticated user's current workspace (auth.User.WorkspaceID). Empty when
// none is set.
//
// Route parameters are only visible to middleware attached below the route
// that declares them (chi's Route, With or Mount), not to r.Use at the root.
// Because {id} is read, use RequireMember only where {id} names a workspace;
// under routes where {id} is something else, name the workspace parameter
// {workspace_id}.
func RequestWorkspaceID(r *http.Request) string {
	if id := chi.URLParam(r, "workspace_id"); id != "" {
		return id
	}
	if id := chi.URLParam(r, "id"); id != "" {
		return id
	}
	if id := r.URL.Query().Get("workspace_id"); id != "" {
		return id
	}
	if id := r.Header.Get(WorkspaceHeader); id != "" {
		return id
	}
	if u, ok := auth.UserFrom(r.Context()); ok {
		return u.WorkspaceID
	}
	return ""
}

// RequireMember lets a request through only when the authenticated user is
// a member of the request's workspace (see RequestWorkspaceID), and puts the
// workspace id and the user's role in the context (WorkspaceIDFrom,
// RoleFrom). That workspace also becomes the request's current workspace:
// inside the guard, auth.UserFrom(ctx).WorkspaceID and
// auth.PrincipalFrom(ctx).WorkspaceID are the workspace checked, even when
// X-Workspace-ID named another, so a handler scoping data by either acts
// where the role was checked. Without a user it answers as auth.RequireUser does (401
// "unauthorized", or auth's reason for refusing the request's token or
// X-Workspace-ID). A workspace that does not
// exist or of which the user is not a member: 404 "not_found", the same
// response for both, so ids cannot be probed. No workspace at all: 400
// "workspace_required". An API key bound to a workspace
// (auth.Principal.KeyWorkspaceID) asking about another: 403 "forbidden".
func (s *Service) RequireMember(next http.Handler) http.Handler {
	return s.requireRole(RoleMember, next)
}

// RequireRole is RequireMember that also demands at least the role min
// (RoleOwner, RoleAdmin or RoleMember); a member with a lesser role gets 403
// "forbidden". It panics when min is not a role, at construction.
func (s *Service) RequireRole(min string) func(http.Handler) http.Handler {
	if !ValidRole(min) {
		panic("workspaces: RequireRole(" + min + "): role must be owner, admin or member")
	}
	return func(next http.Handler) http.Handler { return s.requireRole(min, next) }
}

func (s *Service) requireRole(min string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := auth.UserFrom(r.Context())
		if !ok {
			// auth.RequireUser has the answer: 401, or why auth refused
			// the request's credentials. Its inner handler is not reached.
			auth.RequireUser(http.NotFoundHandler()).ServeHTTP(w, r)
			return
		}
		wsID := RequestWorkspaceID(r)
		if wsID == "" {
			middleware.WriteError(w, r, ErrNoWorkspace)
			return
		}
		// An API key bound to a workspace acts in that one only.
		if p, _ := auth.PrincipalFrom(r.Context()); p.KeyWorkspaceID != "" && p.KeyWorkspaceID != wsID {
			middleware.WriteError(w, r, errKeyWorkspace)
			return
		}
		role, err := s.Role(r.Context(), wsID, u.ID)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		if !AtLeast(role, min) {
			middleware.WriteError(w, r, ErrForbidden)
			return
		}
		ctx := auth.WithWorkspace(WithMembership(r.Context(), wsID, role), wsID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
