package appkernel

import (
	"fmt"
	"net/http"

	"appkernel/internal/health"
	"appkernel/middleware"
)

// liveHandler is the liveness probe (GET /healthz) as ServeHTTP answers it,
// beside the stack: it gets a request ID and the security headers, as
// every response does, but no access line, rate limit, metering or
// authentication, so that probes stay cheap and out of the log.
func (k *Kernel) liveHandler() (http.Handler, error) {
	realIP, err := middleware.RealIP(k.cfg.TrustedProxies) // for HSTS behind a trusted TLS proxy
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	security, err := middleware.SecurityHeaders(middleware.SecurityHeadersOptions{}) // as the stack's
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return middleware.RequestID(realIP(security(http.HandlerFunc(health.Live)))), nil
}
