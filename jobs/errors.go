package jobs

import (
	"errors"
	"fmt"
	"net/http"

	"appkernel/internal/redisguard"
)

// kindError is a sentinel that also tells the HTTP layer how to render it.
type kindError struct {
	msg    string
	status int
	code   string
}

func (e *kindError) Error() string { return e.msg }

// HTTPStatus is the status a request failing with this error answers.
func (e *kindError) HTTPStatus() int { return e.status }

// ErrorCode is the machine-readable code of the error response.
func (e *kindError) ErrorCode() string { return e.code }

var (
	// ErrNoBackend is returned by a Client without Redis (a nil *Client or
	// one built with a nil connection). Jobs need REDIS_URL.
	ErrNoBackend error = &kindError{"jobs: no backend (Redis is not configured)", http.StatusServiceUnavailable, "jobs_unavailable"}

	// ErrUnavailable wraps the error of a call that could not reach Redis
	// (refused, reset, timed out, or the kernel's breaker open after such
	// a failure). Over HTTP it is 503 jobs_unavailable, like ErrNoBackend:
	// an expected refusal while Redis is away, not a fault of the service.
	ErrUnavailable error = &kindError{"jobs: Redis is unavailable", http.StatusServiceUnavailable, "jobs_unavailable"}

	// ErrDuplicate is returned by Enqueue when a job with the same unique
	// key is still pending, scheduled, retrying or running. The Info
	// returned beside it carries the id of that first job.
	ErrDuplicate error = &kindError{"jobs: duplicate job", http.StatusConflict, "duplicate_job"}

	// ErrDuplicateID is returned by Enqueue when WithID names a job of the
	// same queue that is still scheduled, pending, running or retrying.
	// That job is left as it was; the Info returned beside it carries its
	// id and state.
	ErrDuplicateID error = &kindError{"jobs: job id in use", http.StatusConflict, "duplicate_job_id"}

	// ErrNotFound is returned when a job does not exist (never enqueued,
	// or its result retention has passed), or is not dead for the dead-set
	// operations.
	ErrNotFound error = &kindError{"jobs: job not found", http.StatusNotFound, "not_found"}
)

// unavailable wraps err with ErrUnavailable when it says Redis could not be
// reached, so that callers and the HTTP layer can tell an outage from a
// refusal of the job itself.
func unavailable(err error) error {
	if redisguard.Unavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// permanentError marks a handler error that must not be retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the job goes to the dead set at once instead
// of being retried (for example, a payload that can never be decoded).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was wrapped with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
