package middleware

import (
	"context"
	"net/http"
)

// requestState is the per-request record the stack shares: the access log
// reads what handlers and other middleware wrote into it.
type requestState struct {
	requestID   string
	userID      string
	err         error // a real fault (status 500) to log
	debug       bool
	bodyLimited bool
}

type stateKey struct{}

func stateFrom(r *http.Request) *requestState {
	st, _ := r.Context().Value(stateKey{}).(*requestState)
	return st
}

// withState returns r with a request state, creating one when absent.
func withState(r *http.Request) (*http.Request, *requestState) {
	if st := stateFrom(r); st != nil {
		return r, st
	}
	st := &requestState{}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st)), st
}

// SetUserID records the authenticated user's id for the access log line.
// Authentication middleware calls it; it does nothing outside the stack.
func SetUserID(ctx context.Context, id string) {
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		st.userID = id
	}
}

func bodyLimited(r *http.Request) bool {
	st := stateFrom(r)
	return st != nil && st.bodyLimited
}
