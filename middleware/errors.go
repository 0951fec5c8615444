package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is an error with the HTTP status and machine-readable code a client
// should see. Handlers return it (or wrap it) to choose the response of
// WriteError; its Message is shown to the client as it is.
type Error struct {
	Status  int    // HTTP status, e.g. 404.
	Code    string // machine-readable code, e.g. "not_found".
	Message string // human-readable message shown to the client.
	Err     error  // optional cause, logged but never shown.
}

// NewError returns an *Error with the given status, code and message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Errorf returns an *Error whose message is formatted like fmt.Sprintf.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the message and, after a colon, the cause (for logs).
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause, so errors.Is and errors.As see through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus reports the status of the response.
func (e *Error) HTTPStatus() int { return e.Status }

// ErrorCode reports the machine-readable code of the response.
func (e *Error) ErrorCode() string { return e.Code }

// statusCoder is implemented by errors of other kernel packages (db, auth,
// ...) that know how they should appear over HTTP without importing this
// package. ErrorCode is optional (see codeFor).
type statusCoder interface{ HTTPStatus() int }

type errorCoder interface{ ErrorCode() string }

// clientMessager is implemented by errors of other kernel packages whose
// text carries what a client must not see (a database driver's message:
// values, index names, SQLSTATEs): ClientMessage is what it may see.
type clientMessager interface{ ClientMessage() string }

// Classify returns the status, code and client-facing message for err.
// Errors that carry no HTTP meaning are 500 "internal_error" with a generic
// message; their text is never shown to the client (unless debug).
//
// For a status of 500 or more the message is that of the error in the chain
// that carries the status (an *Error's Message, or the Error text of an
// error with an HTTPStatus method, such as db.ErrBusy's "database busy"),
// never the text of the errors wrapping it: those name tables, ids and
// driver messages. Below 500 the message is meant for the client: an
// *Error's Message, else the ClientMessage of the first error in the chain
// that has one (such as db.ConflictError, whose text holds the driver's
// message), else the text of the whole chain.
func Classify(err error) (status int, code, message string) {
	var sc statusCoder
	if errors.As(err, &sc) {
		status = sc.HTTPStatus()
		var ec errorCoder
		if errors.As(err, &ec) {
			code = ec.ErrorCode()
		}
		if code == "" {
			code = codeFor(status)
		}
		if status >= 500 {
			return status, code, serverErrorMessage(sc, status)
		}
		var ke *Error
		if errors.As(err, &ke) && ke.Message != "" {
			return status, code, ke.Message
		}
		var cm clientMessager
		if errors.As(err, &cm) {
			return status, code, cm.ClientMessage()
		}
		return status, code, err.Error()
	}
	return http.StatusInternalServerError, "internal_error", "internal server error"
}

// serverErrorMessage is the client message of a 5xx error: the text of sc
// alone. An *Error's cause is left out; without a Message the status text
// stands in.
func serverErrorMessage(sc statusCoder, status int) string {
	msg := ""
	if ke, ok := sc.(*Error); ok {
		msg = ke.Message
	} else if e, ok := sc.(error); ok {
		msg = e.Error()
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	if msg == "" {
		msg = "internal server error"
	}
	return msg
}

// codeFor is the default code of each status the kernel uses.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "validation_error"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "error"
}
