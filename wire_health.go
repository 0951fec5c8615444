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
	// The stack's security headers are SecurityHeaders' defaults too.
	probe, err := middleware.Probe(k.cfg.TrustedProxies, middleware.SecurityHeadersOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return probe(http.HandlerFunc(health.Live)), nil
}
