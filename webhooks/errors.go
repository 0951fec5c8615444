package webhooks

import "net/http"

// Error is the type of the package's sentinel errors. It carries the HTTP
// status and code the kernel's error writer renders.
type Error struct {
	status  int
	code    string
	message string
}

func (e *Error) Error() string { return e.message }

// HTTPStatus is the status a client sees for the error.
func (e *Error) HTTPStatus() int { return e.status }

// ErrorCode is the machine-readable code a client sees for the error.
func (e *Error) ErrorCode() string { return e.code }

// ErrInvalid: an input is malformed (URL, event name, description). 422
// "validation_error"; the wrapping error says which and why.
var ErrInvalid = &Error{status: http.StatusUnprocessableEntity, code: "validation_error", message: "invalid input"}

// ErrNotFound: the webhook does not exist in the workspace. 404 "not_found".
var ErrNotFound = &Error{status: http.StatusNotFound, code: "not_found", message: "webhook not found"}

// invalidError wraps ErrInvalid with the message the client sees.
type invalidError struct{ msg string }

func (e *invalidError) Error() string     { return e.msg }
func (e *invalidError) Unwrap() error     { return ErrInvalid }
func (e *invalidError) HTTPStatus() int   { return ErrInvalid.status }
func (e *invalidError) ErrorCode() string { return ErrInvalid.code }

func invalid(msg string) error { return &invalidError{msg: msg} }
