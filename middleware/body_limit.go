package middleware

import (
	"fmt"
	"net/http"
)

// DefaultBodyLimit is the request body limit when none is configured: 1 MiB.
const DefaultBodyLimit = 1 << 20

// BodyLimit returns middleware that caps request bodies at n bytes; reading
// past the cap fails, and DecodeJSON answers 413. A request whose
// Content-Length already exceeds n is refused with 413 before the handler
// runs. n must be positive.
func BodyLimit(n int64) (func(http.Handler) http.Handler, error) {
	if n <= 0 {
		return nil, fmt.Errorf("middleware: body limit must be positive, got %d", n)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				WriteErrorCode(w, r, http.StatusRequestEntityTooLarge, "payload_too_large",
					fmt.Sprintf("request body is larger than %d bytes", n))
				return
			}
			r, st := withState(r)
			st.bodyLimited = true
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}
