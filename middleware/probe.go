package middleware

import (
	"fmt"
	"net/http"
	"unsafe"
)

// Probe returns middleware for a health probe that a server answers beside
// the Stack, as the kernel answers GET /healthz: the response gets what
// every response of the stack carries, a request ID (the probe's own
// X-Request-ID when RequestID would accept it, else a new UUID) and the
// security headers of SecurityHeaders(security), with HSTS behind the
// trustedProxies as RealIP believes them, but none of the stack's
// per-request state: no access line, and the ID is not in the request's
// context. That keeps a probe a few allocations cheap. Bad options are an
// error.
func Probe(trustedProxies []string, security SecurityHeadersOptions) (func(http.Handler) http.Handler, error) {
	rip, err := newRealIP(trustedProxies)
	if err != nil {
		return nil, err
	}
	headers, err := newSecurityHeaderValues(security)
	if err != nil {
		return nil, fmt.Errorf("middleware: Probe: %w", err)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			if v := r.Header[requestIDKey]; len(v) == 1 && validRequestID(v[0]) {
				h[requestIDKey] = v[:1:1]
			} else {
				// The ID's bytes and the header's slice in one allocation.
				id := new(probeID)
				putUUID(&id.buf)
				id.hdr[0] = unsafe.String(&id.buf[0], len(id.buf))
				h[requestIDKey] = id.hdr[:]
			}
			trustedPeer := false
			if headers.hsts != nil && r.TLS == nil && len(r.Header["X-Forwarded-Proto"]) > 0 {
				// Only a trusted proxy's X-Forwarded-Proto can ask for HSTS.
				_, trustedPeer, _ = rip.resolve(r)
			}
			headers.set(h, headers.hsts != nil && forwardedTLS(r, trustedPeer))
			next.ServeHTTP(w, r)
		})
	}, nil
}

// probeID is a new request ID of a probe and its header value: the string
// points into buf, which is never written again.
type probeID struct {
	buf [36]byte
	hdr [1]string
}
