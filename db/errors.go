package db

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// kernelError is the type of the package's sentinel errors. It carries the
// HTTP meaning of the condition so that the kernel's error writer can render
// it without this package importing middleware.
type kernelError struct {
	status int
	code   string
	msg    string
}

func (e *kernelError) Error() string { return e.msg }

// HTTPStatus reports the HTTP status a client should see for the error.
func (e *kernelError) HTTPStatus() int { return e.status }

// ErrorCode reports the machine-readable code a client should see.
func (e *kernelError) ErrorCode() string { return e.code }

var (
	// ErrNotFound is returned when an entity, or its whole table, does not
	// exist (or is soft-deleted and not asked for). HTTP 404 "not_found".
	ErrNotFound error = &kernelError{http.StatusNotFound, "not_found", "not found"}

	// ErrInvalidQuery is returned for a where clause, order or page outside
	// the grammar, or a placeholder count that does not match the params.
	// HTTP 400 "invalid_query".
	ErrInvalidQuery error = &kernelError{http.StatusBadRequest, "invalid_query", "invalid query"}

	// ErrInvalidName is returned for a table or field name that does not
	// match ^[A-Za-z_][A-Za-z0-9_]{0,62}$. HTTP 400 "invalid_name".
	ErrInvalidName error = &kernelError{http.StatusBadRequest, "invalid_name", "invalid name"}

	// ErrConflict is returned when a save breaks a unique index, on every
	// dialect and inside Tx too. HTTP 409 "conflict".
	ErrConflict error = &kernelError{http.StatusConflict, "conflict", "conflict"}

	// ErrBusy is returned when the database gave up on a call because of
	// contention with other transactions (a deadlock, a serialization
	// failure or a lock wait timeout) and running it again did not help:
	// Tx and the store's own writes already run again a few times, with a
	// short random pause, before returning it. The request may succeed
	// later. HTTP 503 "busy".
	ErrBusy error = &kernelError{http.StatusServiceUnavailable, "busy", "database busy"}

	// ErrTypeMismatch is returned when a value cannot go into the existing
	// column of a field (see TypeMismatchError). HTTP 422 "type_mismatch".
	ErrTypeMismatch error = &kernelError{http.StatusUnprocessableEntity, "type_mismatch", "type mismatch"}
)

// TypeMismatchError reports a value whose type does not fit the column it is
// saved into. It matches ErrTypeMismatch with errors.Is.
type TypeMismatchError struct {
	Table      string // table of the entity.
	Column     string // field whose column has another type.
	ColumnType string // the column's type: text, integer, float, bool or json.
	ValueType  string // the type of the rejected value.
}

func (e *TypeMismatchError) Error() string {
	return fmt.Sprintf("db: cannot store a %s value in %s column %s.%s: type mismatch",
		e.ValueType, e.ColumnType, e.Table, e.Column)
}

// Unwrap returns ErrTypeMismatch.
func (e *TypeMismatchError) Unwrap() error { return ErrTypeMismatch }

// QueryError reports where a where clause or order left the grammar. It
// matches ErrInvalidQuery with errors.Is.
type QueryError struct {
	Input  string // the clause as given.
	Token  string // the offending token ("" at the end of input).
	Pos    int    // byte offset of Token in Input.
	Reason string // what was expected or why the token is refused.
}

func (e *QueryError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("db: %s at end of clause %q: invalid query", e.Reason, e.Input)
	}
	return fmt.Sprintf("db: %s: %q at position %d: invalid query", e.Reason, e.Token, e.Pos)
}

// Unwrap returns ErrInvalidQuery.
func (e *QueryError) Unwrap() error { return ErrInvalidQuery }

// ConflictError reports a write that broke a unique index. It matches
// ErrConflict with errors.Is, and the driver's error with errors.As. Its
// Error text carries the driver's message (values, index names, codes) for
// logs; ClientMessage says what a client may see.
type ConflictError struct {
	Fields []string // fields of the index, when the store knows them (from EnsureIndex, or the database names them).
	Index  string   // the index's name, when the database names it.
	Err    error    // the driver's error.
}

func (e *ConflictError) Error() string {
	what := "unique index"
	if e.Index != "" {
		what += " " + e.Index
	}
	if len(e.Fields) > 0 {
		what += " (" + strings.Join(e.Fields, ", ") + ")"
	}
	if e.Err != nil {
		what += " violated (" + e.Err.Error() + ")"
	} else {
		what += " violated"
	}
	return what + ": conflict"
}

// Unwrap returns ErrConflict and the driver's error.
func (e *ConflictError) Unwrap() []error { return []error{ErrConflict, e.Err} }

// ClientMessage says which fields hold a taken value, in the app's own
// field names, without the value or anything of the database's.
func (e *ConflictError) ClientMessage() string {
	switch len(e.Fields) {
	case 0:
		return "an entity with the same unique values already exists"
	case 1:
		return e.Fields[0] + " is already taken"
	}
	last := len(e.Fields) - 1
	return "this combination of " + strings.Join(e.Fields[:last], ", ") + " and " + e.Fields[last] + " is already taken"
}

// clientError is a kernel error whose message for clients (msg, the
// kernel's words) leaves out the driver's error it wraps (cause, for logs).
type clientError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *clientError) Error() string {
	return "db: " + e.msg + " (" + e.cause.Error() + "): " + e.sentinel.Error()
}

func (e *clientError) Unwrap() []error { return []error{e.sentinel, e.cause} }

// ClientMessage is the message without the driver's words.
func (e *clientError) ClientMessage() string { return e.msg }

// ColumnLimitError reports a save (or EnsureIndex) whose new fields would
// take a table past its column limit (Config.MaxColumns). None of them was
// added. It matches ErrInvalidQuery with errors.Is.
type ColumnLimitError struct {
	Table   string   // table of the entity.
	Limit   int      // the limit, the store's own columns included.
	Columns int      // columns the table has.
	New     []string // the fields that would have become columns, sorted.
}

func (e *ColumnLimitError) Error() string {
	return fmt.Sprintf("db: %s: %d new fields (%s) would take the table from %d columns past its limit of %d: invalid query",
		e.Table, len(e.New), strings.Join(e.New, ", "), e.Columns, e.Limit)
}

// Unwrap returns ErrInvalidQuery.
func (e *ColumnLimitError) Unwrap() error { return ErrInvalidQuery }

func notFound(table, id string) error {
	return fmt.Errorf("db: %s %q: %w", table, id, ErrNotFound)
}

func invalidQuery(format string, args ...any) error {
	return fmt.Errorf("db: "+format+": %w", append(args, ErrInvalidQuery)...)
}

// errTxDone is returned by calls on the Store of a transaction that ended.
var errTxDone = errors.New("db: transaction already committed or rolled back")
