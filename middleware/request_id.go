package middleware

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"unsafe"
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
		var id string
		if v := r.Header[requestIDKey]; len(v) == 1 && validRequestID(v[0]) {
			id = v[0]
		} else {
			// The ID's bytes live in the state, which is never reused, so
			// the string over them never changes: no allocation of its own.
			putUUID(&st.requestIDBuf)
			id = unsafe.String(&st.requestIDBuf[0], len(st.requestIDBuf))
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

// putUUID writes a random (version 4) UUID in its canonical text form to
// b. The 122 random bits come from math/rand/v2's runtime generator
// (ChaCha8, seeded by the OS per thread): unpredictable enough for a
// correlation ID, which is public anyway, with collisions as unlikely as
// with crypto/rand, and several times cheaper on the hot path. A request
// ID must never be used as a secret.
func putUUID(b *[36]byte) {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], rand.Uint64()&^(0xf<<12)|0x4<<12) // version 4
	binary.BigEndian.PutUint64(raw[8:], rand.Uint64()&^(0x3<<62)|0x2<<62) // variant 10
	hex.Encode(b[0:8], raw[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], raw[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], raw[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], raw[8:10])
	b[23] = '-'
	hex.Encode(b[24:], raw[10:])
}
