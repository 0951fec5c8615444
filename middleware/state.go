package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
)

// requestState is the one per-request record the stack shares: the access
// log reads what handlers and other middleware wrote into it. It is also the
// request's context (it embeds the parent and answers its own key), so
// creating it costs one allocation instead of a context.WithValue plus the
// state.
type requestState struct {
	context.Context

	// req is the request handed down the chain, in the same allocation as
	// the state (see withState).
	req http.Request

	requestID    string
	requestIDHdr [1]string // backs the echoed header, so echoing allocates nothing
	requestIDBuf [36]byte  // the bytes of a generated request ID
	clientIP     string
	trustedPeer  bool // the direct peer is a trusted proxy (see RealIP)
	userID       string
	traceID      string // the server span's trace id (see SetTraceID)
	logPath      string // replaces the URL path in the access line (see RedactPath)
	err          error  // a real fault (status 500) to log
	stack        []byte // stack of a recovered panic
	debug        bool
	bodyLimited  bool

	accessLog bool         // Logger runs and will write this request's line
	logger    *slog.Logger // the access logger, base of LoggerFrom
	reqLogger atomic.Pointer[slog.Logger]
	rctx      *chi.Context // a route context from Root, or Logger's when chi had none
	rw        responseRecorder

	values  [maxStateValues]stateValue // what WithValue stored
	nvalues int
}

// maxStateValues bounds the pairs WithValue keeps in a request's state;
// further pairs go into a copy of the request.
const maxStateValues = 2

type stateValue struct{ key, val any }

type stateKey struct{}

// Value answers the state's own key (and a route context the state holds)
// and forwards everything else to the parent context.
func (st *requestState) Value(key any) any {
	switch key.(type) {
	case stateKey:
		return st
	}
	if st.rctx != nil && key == chi.RouteCtxKey {
		return st.rctx
	}
	for i := st.nvalues - 1; i >= 0; i-- {
		if st.values[i].key == key {
			return st.values[i].val
		}
	}
	return st.Context.Value(key)
}

// WithValue returns a request whose context answers key with val, as
// r.WithContext(context.WithValue(r.Context(), key, val)) does, without
// copying the request inside the stack: there the pair is kept in the
// request's state and r itself is returned. The pair is then seen through
// every context of this request that the stack made, also those made
// before the call (middleware that ran earlier), so a key must mean the
// same to all of them; a later call with the same key replaces the value.
// key must be comparable and, as for context.WithValue, of a type of its
// own. Outside the stack, or past two pairs, it is context.WithValue.
// Call it before the request is handed on or shared with another
// goroutine, as middleware does: the state is not guarded against
// concurrent use.
func WithValue(r *http.Request, key, val any) *http.Request {
	if st := stateFrom(r); st != nil {
		for i := range st.nvalues {
			if st.values[i].key == key {
				st.values[i].val = val
				return r
			}
		}
		if st.nvalues < maxStateValues {
			st.values[st.nvalues] = stateValue{key, val}
			st.nvalues++
			return r
		}
	}
	return r.WithContext(context.WithValue(r.Context(), key, val))
}

func stateFromContext(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

func stateFrom(r *http.Request) *requestState {
	return stateFromContext(r.Context())
}

// withState returns r with a request state, creating one when absent.
func withState(r *http.Request) (*http.Request, *requestState) {
	if st := stateFrom(r); st != nil {
		return r, st
	}
	st := &requestState{Context: r.Context()}
	// WithContext's copy does not escape here, so the request lives inside
	// the state: one allocation for state, context and request.
	st.req = *r.WithContext(st)
	return &st.req, st
}

// SetUserID records the authenticated user's id for the access log line.
// Authentication middleware calls it; it does nothing outside the stack.
func SetUserID(ctx context.Context, id string) {
	if st := stateFromContext(ctx); st != nil {
		st.userID = id
	}
}

// RedactPath replaces the path written in the request's access line, for
// routes whose path carries a secret (a token in the URL): call it from the
// handler, e.g. RedactPath(ctx, "/workspaces/join/[redacted]"). It does
// nothing outside the stack.
func RedactPath(ctx context.Context, path string) {
	if st := stateFromContext(ctx); st != nil {
		st.logPath = path
	}
}

func bodyLimited(r *http.Request) bool {
	st := stateFrom(r)
	return st != nil && st.bodyLimited
}
