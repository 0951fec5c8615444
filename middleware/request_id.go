package middleware

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
)

// RequestIDHeader is the header a request ID is read from and echoed in.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader in canonical form, for direct map access.
const requestIDKey = "X-Request-Id"

const maxRequestIDLen = 128

// RequestID accepts an incoming X-Request-ID of at most 128 safe characters
// (letters, digits and -_.:/+=) or makes a new random UUID, echoes it on the
// response, and puts it in the request context (see RequestIDFrom). Anything
// else in the header (CR/LF, spaces, quotes, overlong values) is discarded,
// so a client cannot inject text into logs or response headers.
//
// RequestID belongs first in the chain: the access log, LoggerFrom and every
// error body read the ID it sets.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, st := withState(r)
		if st.requestID != "" {
			// A RequestID further up already chose this request's ID.
			next.ServeHTTP(w, r)
			return
		}
		id := ""
		if v := r.Header[requestIDKey]; len(v) == 1 && validRequestID(v[0]) {
			id = v[0]
		} else {
			id = newUUID()
		}
		st.requestID = id
		st.requestIDHdr[0] = id
		w.Header()[requestIDKey] = st.requestIDHdr[:1:1]
		next.ServeHTTP(w, r)
	})
}

// RequestIDFrom returns the request ID that RequestID put in ctx.
func RequestIDFrom(ctx context.Context) (string, bool) {
	st := stateFromContext(ctx)
	if st == nil || st.requestID == "" {
		return "", false
	}
	return st.requestID, true
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID in its canonical text form. It
// formats into a stack buffer so the only allocation is the string itself.
// The bits come from math/rand/v2's runtime generator (ChaCha8, seeded by
// the OS per thread): unpredictable enough for a correlation ID, which is
// public anyway, and several times cheaper than crypto/rand on the hot
// path. A request ID must never be used as a secret.
func newUUID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hex[c>>4]
		b[j+1] = hex[c&0x0f]
		j += 2
	}
	return string(b[:])
}
