package middleware

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultContentSecurityPolicy is the policy SecurityHeaders sends by
// default: a JSON response needs no scripts, styles, frames or anything
// else, so nothing is allowed.
const DefaultContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

// SecurityHeadersOptions configures SecurityHeaders. The zero value gives
// the defaults, which suit a JSON API.
type SecurityHeadersOptions struct {
	// ReferrerPolicy is the Referrer-Policy header. Defaults to
	// "no-referrer".
	ReferrerPolicy string

	// FrameOptions is the X-Frame-Options header: "DENY" or "SAMEORIGIN".
	// Defaults to "DENY".
	FrameOptions string

	// ContentSecurityPolicy is the Content-Security-Policy header. Defaults
	// to DefaultContentSecurityPolicy. A handler serving HTML sets its own
	// (w.Header().Set replaces the default). Set DisableCSP to send none.
	ContentSecurityPolicy string

	// DisableCSP sends no Content-Security-Policy header at all.
	DisableCSP bool

	// HSTSMaxAge is the max-age of Strict-Transport-Security, sent only on
	// requests that arrived over TLS: r.TLS is set, or a trusted proxy (see
	// RealIP, which must run earlier) said X-Forwarded-Proto: https.
	// Defaults to two years; negative disables HSTS.
	HSTSMaxAge time.Duration

	// HSTSIncludeSubdomains adds includeSubDomains to HSTS. Defaults to false.
	HSTSIncludeSubdomains bool
}

func validReferrerPolicy(p string) bool {
	switch p {
	case "no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
		"same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url":
		return true
	}
	return false
}

func (o SecurityHeadersOptions) withDefaults() SecurityHeadersOptions {
	if o.ReferrerPolicy == "" {
		o.ReferrerPolicy = "no-referrer"
	}
	if o.FrameOptions == "" {
		o.FrameOptions = "DENY"
	}
	if o.ContentSecurityPolicy == "" {
		o.ContentSecurityPolicy = DefaultContentSecurityPolicy
	}
	if o.HSTSMaxAge == 0 {
		o.HSTSMaxAge = 2 * 365 * 24 * time.Hour
	}
	return o
}

func (o SecurityHeadersOptions) validate() error {
	if !validReferrerPolicy(o.ReferrerPolicy) {
		return fmt.Errorf("middleware: SecurityHeadersOptions.ReferrerPolicy %q is not a referrer policy (want e.g. no-referrer or strict-origin-when-cross-origin)", o.ReferrerPolicy)
	}
	if o.FrameOptions != "DENY" && o.FrameOptions != "SAMEORIGIN" {
		return fmt.Errorf("middleware: SecurityHeadersOptions.FrameOptions %q must be DENY or SAMEORIGIN", o.FrameOptions)
	}
	if strings.ContainsAny(o.ContentSecurityPolicy, "\r\n") {
		return fmt.Errorf("middleware: SecurityHeadersOptions.ContentSecurityPolicy must not contain CR or LF")
	}
	return nil
}

// SecurityHeaders returns middleware that sets the headers every API
// response should carry: X-Content-Type-Options: nosniff, X-Frame-Options,
// Referrer-Policy, a Content-Security-Policy that allows nothing (right for
// JSON; handlers serving HTML override it), and Strict-Transport-Security on
// requests that came over TLS. Headers are set before the handler runs, so
// a handler can replace any of them. Bad options are an error.
func SecurityHeaders(opts SecurityHeadersOptions) (func(http.Handler) http.Handler, error) {
	v, err := newSecurityHeaderValues(opts)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v.set(w.Header(), v.hsts != nil && overTLS(r))
			next.ServeHTTP(w, r)
		})
	}, nil
}

// securityHeaderValues are the headers SecurityHeaders sets, built once:
// one shared, capacity-limited slice per header, so that setting a header
// is a map assignment, and an append by anyone copies instead of writing
// here.
type securityHeaderValues struct {
	nosniff, frame, referrer, csp, hsts []string
}

func newSecurityHeaderValues(opts SecurityHeadersOptions) (securityHeaderValues, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return securityHeaderValues{}, err
	}
	one := func(v string) []string { return []string{v}[:1:1] }
	v := securityHeaderValues{nosniff: one("nosniff"), frame: one(opts.FrameOptions), referrer: one(opts.ReferrerPolicy)}
	if !opts.DisableCSP {
		v.csp = one(opts.ContentSecurityPolicy)
	}
	if opts.HSTSMaxAge > 0 {
		hsts := "max-age=" + strconv.FormatInt(int64(opts.HSTSMaxAge/time.Second), 10)
		if opts.HSTSIncludeSubdomains {
			hsts += "; includeSubDomains"
		}
		v.hsts = one(hsts)
	}
	return v, nil
}

// set sets the headers on h; HSTS only when overTLS.
func (v securityHeaderValues) set(h http.Header, overTLS bool) {
	h["X-Content-Type-Options"] = v.nosniff
	h["X-Frame-Options"] = v.frame
	h["Referrer-Policy"] = v.referrer
	if v.csp != nil {
		h["Content-Security-Policy"] = v.csp
	}
	if v.hsts != nil && overTLS {
		h["Strict-Transport-Security"] = v.hsts
	}
}

// overTLS reports whether the client reached us over TLS: directly, or
// through a trusted proxy (as RealIP found) that said so in
// X-Forwarded-Proto.
func overTLS(r *http.Request) bool {
	st := stateFrom(r)
	return forwardedTLS(r, st != nil && st.trustedPeer)
}

// forwardedTLS reports whether the client reached us over TLS: directly, or
// through a trusted peer that said so in X-Forwarded-Proto (its first
// value, the protocol the client used with the first proxy).
func forwardedTLS(r *http.Request, trustedPeer bool) bool {
	if r.TLS != nil {
		return true
	}
	if !trustedPeer {
		return false
	}
	v := r.Header["X-Forwarded-Proto"]
	if len(v) == 0 {
		return false
	}
	proto := v[0]
	if i := strings.IndexByte(proto, ','); i >= 0 {
		proto = proto[:i]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
