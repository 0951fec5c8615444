package auth

import (
	"net/http"

	"appkernel/middleware"
)

// RequireUser answers 401 "unauthorized" unless an identity is in the
// request context (put there by Service.Authenticate or API-key auth); a
// request whose token Authenticate refused gets that refusal instead (401
// "invalid_token", or 403 for a foreign X-Workspace-ID).
func RequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFrom(r.Context()); !ok {
			writeError(w, r, unauthenticated(r))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireAdmin answers 401 "unauthorized" without an identity and 403
// "forbidden" when the user is not an admin. An API key passes only when
// its owner is an admin and the key has the scope ScopeAdmin (else 403
// "insufficient_scope"): a key made for a narrow job does not carry its
// owner's whole admin power.
func RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok {
			writeError(w, r, unauthenticated(r))
			return
		}
		if u.Role != RoleAdmin {
			writeError(w, r, withMsg(ErrForbidden, "admin role required"))
			return
		}
		if p, _ := PrincipalFrom(r.Context()); !p.HasScope(ScopeAdmin) {
			writeError(w, r, withMsg(ErrInsufficientScope, `this API key lacks the scope "admin"`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unauthenticated is the error for a request without identity.
func unauthenticated(r *http.Request) error {
	if err, ok := FailureFrom(r.Context()); ok {
		return err
	}
	return ErrUnauthorized
}

// writeError renders err in the kernel's error shape. The package's own
// errors show their sentinel message only (never wrapping context, so
// bodies do not depend on inputs); 401s carry WWW-Authenticate and 429s
// Retry-After.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg, ok := detail(err)
	if !ok {
		middleware.WriteError(w, r, err)
		return
	}
	switch status {
	case http.StatusUnauthorized:
		if code == "invalid_token" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			w.Header().Set("WWW-Authenticate", "Bearer")
		}
	case http.StatusTooManyRequests:
		if te := asThrottle(err); te != nil {
			w.Header().Set("Retry-After", te.retryAfterSeconds())
		}
	}
	middleware.WriteErrorCode(w, r, status, code, msg)
}
