package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"appkernel/middleware"
)

// WorkspaceHeader switches a request's current workspace (see Authenticate).
const WorkspaceHeader = "X-Workspace-ID"

// APIKeyPrefix starts every API key. Authenticate checks bearer tokens
// with this prefix with the KeyVerifier (see SetKeyVerifier).
const APIKeyPrefix = "sk_"

type authenticatedKey struct{}

// Authenticate reads "Authorization: Bearer <access token>" and, when the
// token and its user and session are valid, puts the identity in the
// request context (UserFrom, PrincipalFrom). It never rejects: a request
// without a valid token goes on without identity, so routes that need none
// (login, refresh, logout with a refresh token) work for a client still
// sending a stale access token. RequireUser and RequireAdmin then answer
// 401 "invalid_token" for an invalid token, and 403 "forbidden" when
// X-Workspace-ID names a workspace the user is not a member of (with a
// membership the request acts in that workspace). Bearer tokens starting
// with APIKeyPrefix, and the X-API-Key header, are API keys: checked by
// the KeyVerifier, they authenticate as their owner with a Principal of
// type PrincipalAPIKey (RequireUser and RequireAdmin answer for them as
// for access tokens).
func (s *Service) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), authenticatedKey{}, true)
		token, ok := bearer(r)
		if key, isKey := apiKeyOf(r, token, ok); isKey {
			s.authenticateKey(w, r, ctx, key, next)
			return
		}
		if !ok {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		u, sid, err := s.verify(ctx, token)
		if err == nil {
			u, err = s.switchWorkspace(ctx, u, r.Header.Get(WorkspaceHeader))
		}
		if err != nil {
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, failureKey{}, err)))
			return
		}
		ctx = WithUser(ctx, u)
		ctx = context.WithValue(ctx, sessionKey{}, sid)
		middleware.SetUserID(ctx, u.ID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type sessionKey struct{}

// failureKey holds why a presented token did not authenticate the request.
type failureKey struct{}

// FailureFrom returns why the credentials a request presented were refused
// by Authenticate (an error wrapping ErrInvalidToken or ErrForbidden), so a
// guard other than RequireUser can answer with the same error.
func FailureFrom(ctx context.Context) (error, bool) {
	err, ok := ctx.Value(failureKey{}).(error)
	return err, ok
}

// sessionFrom returns the session id of the access token that
// authenticated ctx.
func sessionFrom(ctx context.Context) string {
	sid, _ := ctx.Value(sessionKey{}).(string)
	return sid
}

// ensureAuthenticated runs Authenticate unless it already ran for the
// request (the kernel puts it in the stack; Routes works without it too).
func (s *Service) ensureAuthenticated(next http.Handler) http.Handler {
	authed := s.Authenticate(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(authenticatedKey{}) != nil {
			next.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

// VerifyAccessToken checks an access token — signature, algorithm (HS256
// only), issuer, expiry, type — and that its user is active and the
// session it names live (a token that names none is refused), and returns
// the user in their personal workspace. Results of the lookups are cached
// for IdentityCacheTTL. Error: ErrInvalidToken.
func (s *Service) VerifyAccessToken(ctx context.Context, token string) (User, error) {
	u, _, err := s.verify(ctx, token)
	return u, err
}

func (s *Service) verify(ctx context.Context, token string) (User, string, error) {
	// A token that passed full verification is remembered (keyed by its
	// exact text, until its exp at the latest), so a client's next requests
	// skip the HMAC and the JSON decoding. User and session checks below
	// still run on every request.
	c, ok := s.verified.Lookup(token)
	if !ok {
		var err error
		if c, err = s.signer.verify(token); err != nil {
			return User{}, "", err
		}
		s.verified.PutUntil(token, c, c.ExpiresAt.Time)
	}
	// Every access token the service issues names its session. One without
	// is not the service's (a leaked or default secret signed it): with no
	// session to end, logout-all and a password change could not end it.
	if c.SessionID == "" {
		return User{}, "", fmt.Errorf("%w: no session", ErrInvalidToken)
	}
	st, err := s.cachedUser(ctx, c.Subject)
	if err != nil {
		return User{}, "", err
	}
	if !st.ok {
		return User{}, "", fmt.Errorf("%w: user inactive or deleted", ErrInvalidToken)
	}
	sess, err := s.sessionState(ctx, c.SessionID)
	if err != nil {
		return User{}, "", err
	}
	if !sess.liveAt(s.now()) || sess.userID != c.Subject {
		return User{}, "", fmt.Errorf("%w: session ended", ErrInvalidToken)
	}
	return st.u, c.SessionID, nil
}

// cachedUser returns the user of id as cached for IdentityCacheTTL; ok
// is false when the user is gone or inactive.
func (s *Service) cachedUser(ctx context.Context, id string) (userState, error) {
	return s.users.Get(ctx, id, func(ctx context.Context) (userState, error) {
		u, err := s.GetUser(ctx, id)
		if errors.Is(err, ErrUserNotFound) {
			return userState{}, nil
		}
		return userState{u: u, ok: err == nil && u.IsActive}, err
	})
}

// MembershipCacheTTL bounds how long the workspace memberships of a user
// seen by SwitchWorkspace are remembered: a membership added or removed by
// another process reaches X-Workspace-ID within it (in the process that
// made the change at once, see ForgetMemberships).
const MembershipCacheTTL = 5 * time.Second

// maxCachedMemberships bounds the workspace ids cached per user. A user in
// more workspaces is asked about the others one by one.
const maxCachedMemberships = 256

// memberSet is the cached list of the workspaces of one user; complete is
// false when the user has more than maxCachedMemberships.
type memberSet struct {
	ids      map[string]struct{}
	complete bool
}

// SwitchWorkspace returns u acting in workspaceID when u is a member of
// it. workspaceID "" stands for u's personal workspace (u.WorkspaceID),
// kept as the current one only while u is a member of it: otherwise u
// comes back with no current workspace (WorkspaceID ""). The workspaces
// of a user are read in one statement and cached for MembershipCacheTTL,
// refusals included: a client naming made-up workspace ids, one per
// request, costs no statement per request. Error: ErrForbidden.
func (s *Service) SwitchWorkspace(ctx context.Context, u User, workspaceID string) (User, error) {
	return s.switchWorkspace(ctx, u, workspaceID)
}

// ForgetMemberships drops the cached workspace memberships of userID, so
// that a membership added or removed in this process counts at its next
// request (other processes see it within MembershipCacheTTL). The
// workspaces package calls it after each membership change when the
// kernel wires it to this Service.
func (s *Service) ForgetMemberships(userID string) { s.members.Forget(userID) }

func (s *Service) switchWorkspace(ctx context.Context, u User, ws string) (User, error) {
	asked := ws != ""
	if !asked {
		ws = u.WorkspaceID
	}
	if ws == "" {
		return u, nil
	}
	hooks := s.cfg.Workspaces
	if hooks == nil {
		// Without workspaces there are no memberships to check: the stored
		// workspace stays, no other can be chosen.
		if ws == u.WorkspaceID {
			return u, nil
		}
		return User{}, withMsg(ErrForbidden, "not a member of this workspace")
	}
	if len(ws) > 128 || !isText(ws) {
		return User{}, withMsg(ErrForbidden, "not a member of this workspace")
	}
	set, err := s.members.Get(ctx, u.ID, func(ctx context.Context) (memberSet, error) {
		ids, err := hooks.MemberWorkspaces(ctx, u.ID, maxCachedMemberships+1)
		if err != nil {
			return memberSet{}, err
		}
		set := memberSet{ids: make(map[string]struct{}, min(len(ids), maxCachedMemberships)), complete: len(ids) <= maxCachedMemberships}
		for _, id := range ids[:min(len(ids), maxCachedMemberships)] {
			set.ids[id] = struct{}{}
		}
		return set, nil
	})
	if err != nil {
		return User{}, fmt.Errorf("auth: workspace membership: %w", err)
	}
	_, member := set.ids[ws]
	if !member && !set.complete {
		if member, err = hooks.IsMember(ctx, ws, u.ID); err != nil {
			return User{}, fmt.Errorf("auth: workspace membership: %w", err)
		}
	}
	if !member {
		if !asked {
			// Removed from their personal workspace (by another owner):
			// signed in, in no workspace.
			u.WorkspaceID = ""
			return u, nil
		}
		return User{}, withMsg(ErrForbidden, "not a member of this workspace")
	}
	u.WorkspaceID = ws
	return u, nil
}
