package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
)

// RecoverOptions configures Recover. The zero value is usable.
type RecoverOptions struct {
	// Logger receives the ERROR line of a panic when no Logger middleware
	// runs above Recover (with one, the panic goes into the request's
	// access line instead, so one fault is one line). Defaults to a JSON
	// handler on os.Stdout.
	Logger *slog.Logger

	// Debug shows the panic value to the client. Defaults to false: the
	// client gets a plain 500 "internal server error" with the request ID,
	// never a stack or the panic text.
	Debug bool
}

// PanicError is the error a recovered panic becomes: WriteError and the
// access log see it like any internal error.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

// Error returns "panic: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprint("panic: ", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover returns middleware that turns a handler panic into a 500 JSON
// error and logs it at ERROR with its stack and the request ID (in the
// access line when Logger runs above); the server goes on serving. A panic
// with http.ErrAbortHandler is passed on, as net/http expects. When the
// handler had already started its response, the connection is aborted (the
// client sees a broken response rather than a truncated one that looks
// whole) after the panic is logged.
//
// Knowing that the response started needs Logger above Recover, as in
// Stack: Logger's recorder is what tells. Without it, a panic after the
// response started is not aborted, and the 500 error body is written after
// whatever the handler sent.
func Recover(opts RecoverOptions) (func(http.Handler) http.Handler, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(NewJSONHandler(os.Stdout, nil))
	}
	dbg := opts.Debug
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				pe := &PanicError{Value: v, Stack: debug.Stack()}
				st := stateFrom(r)
				if st != nil && st.accessLog {
					// The access line (written by Logger on the way out,
					// also when the response is aborted) carries the panic
					// and its stack.
					st.err = pe
					st.stack = pe.Stack
				} else {
					logPanic(r, logger, st, pe)
				}
				if st != nil && st.accessLog && st.rw.wroteHeader {
					panic(http.ErrAbortHandler)
				}
				msg := "internal server error"
				if dbg || (st != nil && st.debug) {
					msg = pe.Error()
				}
				// Headers the handler set for its own body no longer fit.
				h := w.Header()
				delete(h, "Content-Length")
				delete(h, "Content-Encoding")
				delete(h, "Content-Disposition")
				writeErrorBody(w, r, http.StatusInternalServerError, "internal_error", msg)
			}()
			next.ServeHTTP(w, r)
		})
	}, nil
}

func logPanic(r *http.Request, logger *slog.Logger, st *requestState, pe *PanicError) {
	if st != nil && st.logger != nil {
		logger = st.logger
	}
	id, path := "", r.URL.Path
	if st != nil {
		id = st.requestID
		if st.logPath != "" {
			path = st.logPath // the path may carry a secret (see RedactPath)
		}
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "panic",
		slog.String("method", r.Method),
		slog.String("path", path),
		slog.String("request_id", id),
		slog.String("error", pe.Error()),
		slog.String("stack", string(pe.Stack)),
	)
}
