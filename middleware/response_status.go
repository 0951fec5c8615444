package middleware

import "context"

// ResponseWritten returns the status and the number of body bytes written
// so far to the response of the request whose context is ctx, as the
// access log records them: status is 0 while no header was written. ok is
// false outside Logger. Metering reads it after its handler returned,
// without wrapping the ResponseWriter a second time.
func ResponseWritten(ctx context.Context) (status int, bytes int64, ok bool) {
	st := stateFromContext(ctx)
	if st == nil || !st.accessLog {
		return 0, 0, false
	}
	if !st.rw.wroteHeader {
		return 0, st.rw.bytes, true
	}
	return st.rw.status, st.rw.bytes, true
}
