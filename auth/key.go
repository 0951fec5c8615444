package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"appkernel/middleware"
)

// APIKeyHeader carries an API key, as an alternative to
// "Authorization: Bearer <key>".
const APIKeyHeader = "X-API-Key"

// ScopeAdmin is the scope an API key needs, beside its owner's admin
// role, to pass RequireAdmin.
const ScopeAdmin = "admin"

// KeyVerifier checks API keys for Authenticate. It is implemented by
// *apikeys.Service; the kernel wires it with Service.SetKeyVerifier.
type KeyVerifier interface {
	// VerifyKey checks key (its checksum, then that it is stored, not
	// revoked and not expired) and returns its principal: Type
	// PrincipalAPIKey, UserID (the key's owner), KeyID, Scopes and, for a
	// key bound to one workspace, KeyWorkspaceID. An unknown, malformed,
	// revoked or expired key is an error wrapping ErrInvalidToken. The
	// returned Scopes must not be modified by the caller.
	VerifyKey(ctx context.Context, key string) (Principal, error)
}

// SetKeyVerifier makes Authenticate accept API keys (bearer tokens
// starting with APIKeyPrefix, or the X-API-Key header), checked by v.
// Call it before serving. Without one, a request presenting an API key is
// refused as an invalid token.
func (s *Service) SetKeyVerifier(v KeyVerifier) { s.keys = v }

// apiKeyOf returns the API key a request presents: a bearer token starting
// with APIKeyPrefix, else the X-API-Key header when there is no bearer
// token at all.
func apiKeyOf(r *http.Request, token string, hasBearer bool) (string, bool) {
	if hasBearer {
		return token, len(token) >= len(APIKeyPrefix) && token[:len(APIKeyPrefix)] == APIKeyPrefix
	}
	k := r.Header.Get(APIKeyHeader)
	return k, k != ""
}

// verifyKey authenticates a request presenting an API key: the key's
// principal and its owner, who must be active (the owner's state is the
// cached one of access tokens, so a deactivation reaches keys within
// IdentityCacheTTL), acting in the key's workspace or, for a key not
// bound to one, the workspace X-Workspace-ID names (else the owner's
// personal one).
func (s *Service) verifyKey(ctx context.Context, key, ws string) (User, Principal, error) {
	if s.keys == nil {
		return User{}, Principal{}, fmt.Errorf("%w: API keys are not enabled", ErrInvalidToken)
	}
	p, err := s.keys.VerifyKey(ctx, key)
	if err != nil {
		return User{}, Principal{}, err
	}
	st, err := s.cachedUser(ctx, p.UserID)
	if err != nil {
		return User{}, Principal{}, err
	}
	if !st.ok {
		return User{}, Principal{}, fmt.Errorf("%w: key owner inactive or deleted", ErrInvalidToken)
	}
	if p.KeyWorkspaceID != "" {
		if ws != "" && ws != p.KeyWorkspaceID {
			return User{}, Principal{}, withMsg(ErrForbidden, "this API key is bound to another workspace")
		}
		ws = p.KeyWorkspaceID
	}
	u, err := s.switchWorkspace(ctx, st.u, ws)
	if err != nil {
		return User{}, Principal{}, err
	}
	p.Type, p.UserID, p.WorkspaceID = PrincipalAPIKey, u.ID, u.WorkspaceID
	return u, p, nil
}

// authenticateKey is Authenticate for a request presenting an API key.
func (s *Service) authenticateKey(w http.ResponseWriter, r *http.Request, ctx context.Context, key string, next http.Handler) {
	u, p, err := s.verifyKey(ctx, key, r.Header.Get(WorkspaceHeader))
	if err != nil {
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, failureKey{}, err)))
		return
	}
	ctx = WithPrincipal(WithUser(ctx, u), p)
	middleware.SetUserID(ctx, u.ID)
	next.ServeHTTP(w, r.WithContext(ctx))
}

// HasScope reports whether p may use scope s. A user holding an access
// token has every scope (a user's reach is bounded by role and
// membership, not scopes); an API key has the scopes it was created with.
func (p Principal) HasScope(s string) bool {
	if p.Type != PrincipalAPIKey {
		return true
	}
	return slices.Contains(p.Scopes, s)
}

// RequireScope returns middleware that lets a request through when its
// principal has scope (see Principal.HasScope): users with an access
// token pass, API keys need the scope, else 403 "insufficient_scope".
// Without an identity it answers as RequireUser does.
func RequireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				writeError(w, r, unauthenticated(r))
				return
			}
			if !p.HasScope(scope) {
				writeError(w, r, withMsg(ErrInsufficientScope, fmt.Sprintf("this API key lacks the scope %q", scope)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
