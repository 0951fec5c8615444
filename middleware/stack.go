package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
)

// StackOptions configures Stack. The zero value gives the defaults of every
// middleware.
type StackOptions struct {
	// Logger receives access lines and panics. Defaults to NewJSONHandler
	// on os.Stdout at INFO. The access line is cheapest when the logger's
	// handler is NewJSONHandler (or NewContextHandler over it).
	Logger *slog.Logger

	// Debug shows internal error and panic text to clients in 500
	// responses. Defaults to false.
	Debug bool

	// SkipLog leaves a request's access line out when it would be logged at
	// INFO (see LoggerOptions.Skip). Defaults to nil.
	SkipLog func(r *http.Request) bool

	// TrustedProxies are the IPs or CIDR prefixes whose X-Forwarded-For,
	// X-Real-IP and X-Forwarded-Proto are believed (see RealIP). Defaults
	// to none.
	TrustedProxies []string

	// SecurityHeaders configures SecurityHeaders.
	SecurityHeaders SecurityHeadersOptions

	// CORS configures CORS.
	CORS CORSOptions

	// BodyLimit caps request bodies, in bytes. Defaults to
	// DefaultBodyLimit (1 MiB).
	BodyLimit int64

	// Observe are middlewares run right below Logger, before Recover: the
	// kernel puts tracing and metrics here, so that they see every request
	// the access log sees, with the status it logs. nil entries are
	// skipped. Defaults to none.
	Observe []func(http.Handler) http.Handler

	// After are middlewares run after BodyLimit and ValidPath, in order, before the
	// routes: the kernel puts metering, authentication and rate limiting
	// here. nil entries are skipped.
	After []func(http.Handler) http.Handler
}

// Stack returns the kernel's default middleware chain in the order of the
// design's request flow, ready for chi's Router.Use(mws...):
//
//	RequestID → RealIP → Logger → Observe... → Recover → SecurityHeaders → CORS → BodyLimit → ValidPath → After...
//
// Use it on the root chi router, before any route, and install NotFound and
// MethodNotAllowed there too so unknown routes and wrong methods get the
// JSON error shape with a request ID; serve that router through Root, which
// saves a copy of each request. Bad options are an error naming the field.
func Stack(opts StackOptions) ([]func(http.Handler) http.Handler, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(NewJSONHandler(os.Stdout, nil))
	}
	limit := opts.BodyLimit
	if limit == 0 {
		limit = DefaultBodyLimit
	}
	realIP, err := RealIP(opts.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("StackOptions.TrustedProxies: %w", err)
	}
	accessLog, err := Logger(LoggerOptions{Logger: logger, Debug: opts.Debug, Skip: opts.SkipLog})
	if err != nil {
		return nil, err
	}
	recoverer, err := Recover(RecoverOptions{Logger: logger, Debug: opts.Debug})
	if err != nil {
		return nil, err
	}
	security, err := SecurityHeaders(opts.SecurityHeaders)
	if err != nil {
		return nil, fmt.Errorf("StackOptions.SecurityHeaders: %w", err)
	}
	cors, err := CORS(opts.CORS)
	if err != nil {
		return nil, fmt.Errorf("StackOptions.CORS: %w", err)
	}
	bodyLimit, err := BodyLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("StackOptions.BodyLimit: %w", err)
	}
	mws := []func(http.Handler) http.Handler{RequestID, realIP, accessLog}
	for _, mw := range opts.Observe {
		if mw != nil {
			mws = append(mws, mw)
		}
	}
	mws = append(mws, recoverer, security, cors, bodyLimit, ValidPath)
	for _, mw := range opts.After {
		if mw != nil {
			mws = append(mws, mw)
		}
	}
	return mws, nil
}
