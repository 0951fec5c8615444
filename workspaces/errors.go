package workspaces

import (
	"net/http"

	"appkernel/auth"
)

// Error is the type of the package's sentinel errors. It carries the HTTP
// status and code the kernel's error writer renders (middleware.WriteError),
// so handlers and apps can return the sentinels, or wrap them with %w, as
// they are.
type Error struct {
	status  int
	code    string
	message string
	cause   error
}

func (e *Error) Error() string { return e.message }

// HTTPStatus is the status a client sees for the error.
func (e *Error) HTTPStatus() int { return e.status }

// ErrorCode is the machine-readable code a client sees for the error.
func (e *Error) ErrorCode() string { return e.code }

// Unwrap returns the error e stands for in another package, if any
// (ErrInvalidInvite unwraps to auth.ErrInvalidInvite).
func (e *Error) Unwrap() error { return e.cause }

// errKeyWorkspace: an API key bound to one workspace was used for another.
// 403 "forbidden"; errors.Is(err, auth.ErrForbidden) holds.
var errKeyWorkspace = &Error{status: http.StatusForbidden, code: "forbidden", message: "this API key is bound to another workspace", cause: auth.ErrForbidden}

// Sentinel errors. Branch on them with errors.Is.
var (
	// ErrNotFound: the workspace, or the member, does not exist or the
	// acting user is not a member of the workspace (the two are
	// indistinguishable on purpose). 404 "not_found".
	ErrNotFound = &Error{status: http.StatusNotFound, code: "not_found", message: "workspace not found"}
	// ErrForbidden: the acting user is a member but their role does not
	// allow the operation. 403 "forbidden".
	ErrForbidden = &Error{status: http.StatusForbidden, code: "forbidden", message: "your role in this workspace does not allow this"}
	// ErrValidation: the input is malformed (name, email or role). 422
	// "validation_error"; the wrapping error says which field.
	ErrValidation = &Error{status: http.StatusUnprocessableEntity, code: "validation_error", message: "invalid input"}
	// ErrLastOwner: removing the member would leave the workspace without
	// an owner. 409 "last_owner".
	ErrLastOwner = &Error{status: http.StatusConflict, code: "last_owner", message: "the last owner of a workspace cannot be removed"}
	// ErrAlreadyMember: the user is already a member of the workspace. 409
	// "already_member".
	ErrAlreadyMember = &Error{status: http.StatusConflict, code: "already_member", message: "already a member of this workspace"}
	// ErrInvalidInvite: the invite token is unknown, spent, revoked or
	// expired, was issued to another email, or its inviter is no longer a
	// member with at least the invited role; the reason is not told. 403
	// "invalid_invite". errors.Is(err, auth.ErrInvalidInvite) holds too.
	ErrInvalidInvite = &Error{status: http.StatusForbidden, code: "invalid_invite", message: "invite is invalid or has expired", cause: auth.ErrInvalidInvite}
	// ErrNoWorkspace: RequireMember found no workspace id in the request and
	// the user has no current workspace. 400 "workspace_required".
	ErrNoWorkspace = &Error{status: http.StatusBadRequest, code: "workspace_required", message: "no workspace given: use the workspace_id parameter or the X-Workspace-ID header"}
	// ErrBusy: a concurrent change to the same workspace's owners kept
	// winning; the caller may retry. 409 "conflict".
	ErrBusy = &Error{status: http.StatusConflict, code: "conflict", message: "the workspace was changed concurrently, retry"}
)

// validationError wraps ErrValidation with a message naming the field; the
// message is what the client sees.
type validationError struct{ msg string }

func (e *validationError) Error() string     { return e.msg }
func (e *validationError) Unwrap() error     { return ErrValidation }
func (e *validationError) HTTPStatus() int   { return ErrValidation.status }
func (e *validationError) ErrorCode() string { return ErrValidation.code }

func invalid(msg string) error { return &validationError{msg: msg} }
