package apikeys

import (
	"errors"
	"net/http"

	"appkernel/middleware"
)

// Sentinel errors. Branch on them with errors.Is; over HTTP each has the
// status and code in parentheses.
var (
	// ErrNotFound means no key of the caller has the id, or it is revoked
	// (404 not_found): another user's key reads the same.
	ErrNotFound = middleware.NewError(http.StatusNotFound, "not_found", "API key not found")
	// ErrInvalidParams is wrapped by every error for bad Params (422
	// validation_error, the message naming the field).
	ErrInvalidParams = errors.New("apikeys: invalid parameters")
	// ErrTooManyKeys means the user already has MaxKeysPerUser live keys
	// (409 too_many_keys).
	ErrTooManyKeys = middleware.NewError(http.StatusConflict, "too_many_keys", "too many API keys: revoke one first")
	// ErrAccessTokenRequired means an API key tried to create, list or
	// revoke keys (403 forbidden): managing keys needs a user's access token.
	ErrAccessTokenRequired = middleware.NewError(http.StatusForbidden, "forbidden", "managing API keys needs a user's access token, not an API key")
	// ErrWorkspaceRole means the caller is not an owner or admin of the
	// workspace a key was to be bound to (403 forbidden).
	ErrWorkspaceRole = middleware.NewError(http.StatusForbidden, "forbidden", "keys of a workspace need its owner or an admin")
)

// invalid is an error for bad Params whose message says which field.
func invalid(msg string) error {
	return &middleware.Error{Status: http.StatusUnprocessableEntity, Code: "validation_error", Message: msg, Err: ErrInvalidParams}
}
