package auth

import (
	"context"
)

// Roles of a user.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// User is the identity of an authenticated request, and the user JSON of
// every auth route. It never holds a password hash.
type User struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Role     string `json:"role"` // RoleAdmin or RoleUser
	IsActive bool   `json:"is_active"`
	// EmailVerified reports that an OAuth provider vouched for Email.
	// auth has no email-verification flow of its own: an account made
	// with a password has false until a sign-in through a provider with
	// the same verified email links it.
	EmailVerified bool `json:"email_verified"`
	// WorkspaceID is the current workspace: the user's personal workspace
	// (while the user is a member of it), or the one a request switched to
	// with X-Workspace-ID. It is "" when the kernel runs without
	// workspaces, and for a user removed from their personal workspace who
	// names no other.
	WorkspaceID string `json:"workspace_id"`
	CreatedAt   string `json:"created_at"`
}

// IsAdmin reports whether u has the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// Principal types.
const (
	PrincipalUser   = "user"
	PrincipalAPIKey = "api_key"
)

// Principal is who a request acts as: a user holding an access token, or
// an API key acting for a user.
type Principal struct {
	Type        string // PrincipalUser or PrincipalAPIKey
	UserID      string
	WorkspaceID string
	Scopes      []string // API key scopes; nil for users
	KeyID       string   // API key id; "" for users
	// KeyWorkspaceID is the workspace an API key is bound to: the key acts
	// in it only. "" for users and for keys of all their owner's workspaces.
	KeyWorkspaceID string
}

type userKey struct{}

type principalKey struct{}

// UserFrom returns the user that authentication put in ctx.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	if !ok {
		return User{}, false
	}
	return *u, true
}

// PrincipalFrom returns the principal that authentication put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok {
		return Principal{}, false
	}
	return *p, true
}

// WithUser returns ctx carrying u as the request's identity, with a
// Principal of type "user". API-key authentication and tests use it;
// API-key authentication then replaces the principal with WithPrincipal.
func WithUser(ctx context.Context, u User) context.Context {
	ctx = context.WithValue(ctx, userKey{}, &u)
	return context.WithValue(ctx, principalKey{}, &Principal{Type: PrincipalUser, UserID: u.ID, WorkspaceID: u.WorkspaceID})
}

// WithPrincipal returns ctx carrying p as the request's principal. It does
// not change the user; call WithUser first.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

// WithWorkspace returns ctx in which the user (UserFrom) and the principal
// (PrincipalFrom) act in workspaceID; other fields are kept, and an
// identity ctx lacks stays absent. It is for guards that resolved and
// checked the request's workspace themselves, such as
// workspaces.RequireMember; the caller must have checked that the
// identity may act there.
func WithWorkspace(ctx context.Context, workspaceID string) context.Context {
	if u, ok := ctx.Value(userKey{}).(*User); ok {
		c := *u
		c.WorkspaceID = workspaceID
		ctx = context.WithValue(ctx, userKey{}, &c)
	}
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok {
		c := *p
		c.WorkspaceID = workspaceID
		ctx = context.WithValue(ctx, principalKey{}, &c)
	}
	return ctx
}
