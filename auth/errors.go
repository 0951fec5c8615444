package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// authError is the type of the package's sentinel errors. It carries the
// HTTP status and code a client sees, so middleware.WriteError renders it
// without this package's help.
type authError struct {
	status int
	code   string
	msg    string
}

func (e *authError) Error() string { return e.msg }

// HTTPStatus reports the HTTP status of the error.
func (e *authError) HTTPStatus() int { return e.status }

// ErrorCode reports the machine-readable code of the error.
func (e *authError) ErrorCode() string { return e.code }

// Is matches errors of the same code, so a sentinel re-worded by withMsg
// still satisfies errors.Is(err, sentinel).
func (e *authError) Is(target error) bool {
	t, ok := target.(*authError)
	return ok && t.code == e.code && t.status == e.status
}

// withMsg returns sentinel with a more specific client-facing message.
func withMsg(sentinel error, msg string) error {
	ae := sentinel.(*authError)
	return &authError{status: ae.status, code: ae.code, msg: msg}
}

// Sentinel errors of the package. Callers branch on them with errors.Is;
// over HTTP each one has the status and code in parentheses.
var (
	// ErrUnauthorized means the request carries no identity (401 unauthorized).
	ErrUnauthorized error = &authError{http.StatusUnauthorized, "unauthorized", "authentication required"}
	// ErrInvalidToken means an access or refresh token was refused: malformed,
	// forged, expired, revoked, or its user is gone (401 invalid_token).
	ErrInvalidToken error = &authError{http.StatusUnauthorized, "invalid_token", "token is invalid or expired"}
	// ErrInvalidCredentials means the email is unknown or the password is
	// wrong; the two are deliberately indistinguishable (401 invalid_credentials).
	ErrInvalidCredentials error = &authError{http.StatusUnauthorized, "invalid_credentials", "invalid email or password"}
	// ErrWrongPassword means the current password given to ChangePassword is
	// wrong (403 wrong_password).
	ErrWrongPassword error = &authError{http.StatusForbidden, "wrong_password", "current password is wrong"}
	// ErrForbidden means the identity lacks a required role or membership (403 forbidden).
	ErrForbidden error = &authError{http.StatusForbidden, "forbidden", "forbidden"}
	// ErrInsufficientScope means an API key lacks the scope a route needs
	// (403 insufficient_scope).
	ErrInsufficientScope error = &authError{http.StatusForbidden, "insufficient_scope", "the API key lacks a required scope"}
	// ErrSignupDisabled means self-signup is off and the request is neither the
	// first user nor carries a valid invite (403 signup_disabled).
	ErrSignupDisabled error = &authError{http.StatusForbidden, "signup_disabled", "self-signup is disabled"}
	// ErrInvalidInvite means an invite token is unknown, spent, expired or was
	// issued to another email (403 invalid_invite). WorkspaceHooks.AcceptInvite
	// wraps it.
	ErrInvalidInvite error = &authError{http.StatusForbidden, "invalid_invite", "invite is invalid or expired"}
	// ErrAccountDisabled means the user is deactivated (403 account_disabled).
	ErrAccountDisabled error = &authError{http.StatusForbidden, "account_disabled", "account is disabled"}
	// ErrUserNotFound means no user has the given id (404 not_found).
	ErrUserNotFound error = &authError{http.StatusNotFound, "not_found", "user not found"}
	// ErrEmailTaken means another user already has the email (409 email_taken).
	ErrEmailTaken error = &authError{http.StatusConflict, "email_taken", "email is already registered"}
	// ErrInvalidEmail means the email is not a plausible address (422 invalid_email).
	ErrInvalidEmail error = &authError{http.StatusUnprocessableEntity, "invalid_email", "email is not a valid address"}
	// ErrInvalidPassword means a new password breaks the password rules:
	// 8 to 1024 bytes and not one of the most common passwords (422 invalid_password).
	ErrInvalidPassword error = &authError{http.StatusUnprocessableEntity, "invalid_password", "password is invalid"}
	// ErrInvalidRole means a role other than RoleAdmin or RoleUser (422 invalid_role).
	ErrInvalidRole error = &authError{http.StatusUnprocessableEntity, "invalid_role", `role must be "admin" or "user"`}
	// ErrTooManyAttempts means too many failed logins; the error is a
	// *ThrottleError that says when to retry (429 too_many_attempts).
	ErrTooManyAttempts error = &authError{http.StatusTooManyRequests, "too_many_attempts", "too many failed attempts, try again later"}
	// ErrRateLimited means the client IP sent more login and registration
	// requests than Config.PerIPLimit allows; the error is a *ThrottleError
	// with PerIP set that says when to retry (429 rate_limited).
	ErrRateLimited error = &authError{http.StatusTooManyRequests, "rate_limited", "too many sign-in requests from your address, try again later"}
	// ErrBusy means every password-hashing slot stayed taken until the
	// request's context ended (503 busy).
	ErrBusy error = &authError{http.StatusServiceUnavailable, "busy", "server is busy, try again"}
)

// ThrottleError is returned by Login (and ChangePassword) when a failure
// budget is spent (the account's, the account and client IP's, or the
// device's): it unwraps to ErrTooManyAttempts. The login and register
// routes return it with PerIP set when the client IP's request budget is
// spent: it unwraps to ErrRateLimited.
type ThrottleError struct {
	// RetryAfter is how long until the next attempt can succeed.
	RetryAfter time.Duration
	// PerIP reports a spent per-IP request budget (Config.PerIPLimit).
	PerIP bool
}

func (e *ThrottleError) Error() string {
	if e.PerIP {
		return fmt.Sprintf("too many sign-in requests from this address, retry in %s", e.RetryAfter.Round(time.Second))
	}
	return fmt.Sprintf("too many failed attempts, retry in %s", e.RetryAfter.Round(time.Second))
}

// Unwrap returns ErrRateLimited when PerIP is set, else ErrTooManyAttempts.
func (e *ThrottleError) Unwrap() error {
	if e.PerIP {
		return ErrRateLimited
	}
	return ErrTooManyAttempts
}

// HTTPStatus reports 429.
func (e *ThrottleError) HTTPStatus() int { return http.StatusTooManyRequests }

// ErrorCode reports "rate_limited" when PerIP is set, else "too_many_attempts".
func (e *ThrottleError) ErrorCode() string { return e.Unwrap().(*authError).code }

// retryAfterSeconds is the Retry-After header value: whole seconds, rounded up, at least 1.
func (e *ThrottleError) retryAfterSeconds() string {
	s := int64((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// detail returns the status, code and client message of err when it is one
// of this package's errors. The message is the sentinel's own text, never
// the wrapping context, so responses do not vary with inputs (login
// enumeration) and never echo internal detail.
func detail(err error) (status int, code, msg string, ok bool) {
	var te *ThrottleError
	if errors.As(err, &te) {
		return te.HTTPStatus(), te.ErrorCode(), te.Unwrap().Error(), true
	}
	var ae *authError
	if errors.As(err, &ae) {
		return ae.status, ae.code, ae.msg, true
	}
	return 0, "", "", false
}

func asThrottle(err error) *ThrottleError {
	var te *ThrottleError
	if errors.As(err, &te) {
		return te
	}
	return nil
}
