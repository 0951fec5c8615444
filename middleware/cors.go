package middleware

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/cors"
)

// CORSOptions configures CORS. The zero value allows every origin without
// credentials.
type CORSOptions struct {
	// AllowedOrigins lists the origins ("https://app.example.com", or with
	// one wildcard, "https://*.example.com") whose browsers may call the
	// API, or "*" for any. Defaults to ["*"].
	AllowedOrigins []string

	// AllowCredentials lets browsers send cookies and HTTP authentication.
	// It requires explicit AllowedOrigins: with "*" it is an error, as
	// browsers refuse the combination and echoing any origin instead would
	// hand every site the user's session. Defaults to false.
	AllowCredentials bool

	// AllowedMethods defaults to GET, HEAD, POST, PUT, PATCH, DELETE.
	AllowedMethods []string

	// AllowedHeaders are the request headers a browser may send. Defaults to
	// Accept, Authorization, Content-Type, X-API-Key, X-Request-ID.
	AllowedHeaders []string

	// ExposedHeaders are the response headers scripts may read. Defaults to
	// X-Request-ID, Retry-After and the RateLimit-* / X-RateLimit-* headers.
	ExposedHeaders []string

	// MaxAge is how long, in seconds, a browser may cache a preflight.
	// Defaults to 300.
	MaxAge int
}

func (o CORSOptions) withDefaults() CORSOptions {
	if len(o.AllowedOrigins) == 0 {
		o.AllowedOrigins = []string{"*"}
	}
	if len(o.AllowedMethods) == 0 {
		o.AllowedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	}
	if len(o.AllowedHeaders) == 0 {
		o.AllowedHeaders = []string{"Accept", "Authorization", "Content-Type", "X-API-Key", RequestIDHeader}
	}
	if len(o.ExposedHeaders) == 0 {
		o.ExposedHeaders = []string{RequestIDHeader, "Retry-After",
			"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
			"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
	}
	if o.MaxAge == 0 {
		o.MaxAge = 300
	}
	return o
}

// originMatcher decides whether an Origin is allowed; nil-safe "any".
type originMatcher struct {
	any      bool
	exact    map[string]bool
	wildcard [][2]string // prefix, suffix
}

func newOriginMatcher(origins []string) (originMatcher, error) {
	m := originMatcher{exact: map[string]bool{}}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimSpace(o))
		if o == "*" {
			m.any = true
			continue
		}
		if strings.Count(o, "*") > 1 {
			return m, fmt.Errorf("middleware: CORSOptions.AllowedOrigins entry %q has more than one wildcard", o)
		}
		check := strings.Replace(o, "*", "x", 1)
		u, err := url.Parse(check)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return m, fmt.Errorf("middleware: CORSOptions.AllowedOrigins entry %q is not an origin (want scheme://host[:port], e.g. https://app.example.com, or \"*\")", o)
		}
		o = strings.TrimSuffix(o, "/")
		if i := strings.IndexByte(o, '*'); i >= 0 {
			m.wildcard = append(m.wildcard, [2]string{o[:i], o[i+1:]})
		} else {
			m.exact[o] = true
		}
	}
	if m.any && (len(m.exact) > 0 || len(m.wildcard) > 0) {
		return m, fmt.Errorf("middleware: CORSOptions.AllowedOrigins mixes \"*\" with explicit origins; use one or the other")
	}
	return m, nil
}

func (m originMatcher) allowed(origin string) bool {
	if m.any {
		return true
	}
	origin = strings.ToLower(origin)
	if m.exact[origin] {
		return true
	}
	for _, w := range m.wildcard {
		if len(origin) > len(w[0])+len(w[1]) && strings.HasPrefix(origin, w[0]) && strings.HasSuffix(origin, w[1]) {
			return true
		}
	}
	return false
}

// CORS returns middleware that answers cross-origin requests with
// github.com/go-chi/cors. By default any origin may call the API without
// credentials ("Access-Control-Allow-Origin: *"); with explicit origins and
// AllowCredentials the allowed origin is echoed with
// Access-Control-Allow-Credentials: true. "*" together with credentials is an
// error, as is an entry that is not an origin.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) from an
// origin that is not allowed gets 403 with the JSON error
// "cors_origin_not_allowed" and no Access-Control-Allow-* header; an actual
// request from such an origin is served without CORS headers, so the
// browser withholds the response from the calling page.
func CORS(opts CORSOptions) (func(http.Handler) http.Handler, error) {
	opts = opts.withDefaults()
	m, err := newOriginMatcher(opts.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	if m.any && opts.AllowCredentials {
		return nil, fmt.Errorf("middleware: CORSOptions.AllowCredentials cannot be used with AllowedOrigins \"*\"; list the allowed origins explicitly")
	}
	if opts.MaxAge < 0 {
		return nil, fmt.Errorf("middleware: CORSOptions.MaxAge must not be negative, got %d", opts.MaxAge)
	}
	c := cors.New(chiCORSOptions(opts, m))
	actual := newActualCORS(m, opts)
	return func(next http.Handler) http.Handler {
		h := c.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.Header["Origin"]; !ok {
				// Not a CORS request (browsers send Origin on every
				// cross-origin one). go-chi/cors would only add
				// Vary: Origin, for caches; do just that, cheaply.
				addVaryOrigin(w.Header())
				next.ServeHTTP(w, r)
				return
			}
			if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
				actual.addHeaders(w.Header(), r)
				next.ServeHTTP(w, r)
				return
			}
			// A preflight: go-chi/cors answers it, unless the origin is
			// not allowed.
			if origin := r.Header["Origin"]; !m.any && (len(origin) != 1 || !m.allowed(origin[0])) {
				hdr := w.Header()
				hdr.Add("Vary", "Origin")
				hdr.Add("Vary", "Access-Control-Request-Method")
				hdr.Add("Vary", "Access-Control-Request-Headers")
				WriteErrorCode(w, r, http.StatusForbidden, "cors_origin_not_allowed", "origin is not allowed to call this API")
				return
			}
			h.ServeHTTP(w, r)
		})
	}, nil
}

// chiCORSOptions are the go-chi/cors options for opts (with defaults).
func chiCORSOptions(opts CORSOptions, m originMatcher) cors.Options {
	co := cors.Options{
		AllowedMethods:   opts.AllowedMethods,
		AllowedHeaders:   opts.AllowedHeaders,
		ExposedHeaders:   opts.ExposedHeaders,
		AllowCredentials: opts.AllowCredentials,
		MaxAge:           opts.MaxAge,
	}
	if m.any {
		co.AllowedOrigins = []string{"*"}
	} else {
		co.AllowOriginFunc = func(_ *http.Request, origin string) bool { return m.allowed(origin) }
	}
	return co
}

// actualCORS adds the headers of an actual (not preflight) cross-origin
// request: what go-chi/cors's handleActualRequest adds for the same
// options (a test compares the two on every kind of request), with the
// values that never change built once instead of on every request.
type actualCORS struct {
	m           originMatcher
	methods     map[string]bool
	exposed     []string // one value, or nil
	credentials bool
}

var (
	anyOrigin = []string{"*"}[:1:1]
	trueValue = []string{"true"}[:1:1]
)

func newActualCORS(m originMatcher, opts CORSOptions) actualCORS {
	a := actualCORS{m: m, methods: map[string]bool{}, credentials: opts.AllowCredentials}
	for _, method := range opts.AllowedMethods {
		a.methods[strings.ToUpper(method)] = true
	}
	if len(opts.ExposedHeaders) > 0 {
		names := make([]string, len(opts.ExposedHeaders))
		for i, h := range opts.ExposedHeaders {
			names[i] = http.CanonicalHeaderKey(h)
		}
		a.exposed = []string{strings.Join(names, ", ")}[:1:1]
	}
	return a
}

func (a actualCORS) addHeaders(h http.Header, r *http.Request) {
	addVaryOrigin(h)
	origin := r.Header.Get("Origin")
	if !a.m.allowed(origin) {
		return
	}
	// Like go-chi/cors, methods outside AllowedMethods get no CORS
	// headers (OPTIONS always does).
	if method := r.Method; method != http.MethodOptions && !a.methods[method] && !a.methods[strings.ToUpper(method)] {
		return
	}
	if a.m.any {
		h["Access-Control-Allow-Origin"] = anyOrigin
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
	if a.exposed != nil {
		h["Access-Control-Expose-Headers"] = a.exposed
	}
	if a.credentials {
		h["Access-Control-Allow-Credentials"] = trueValue
	}
}

// varyOrigin is shared by every response; the full slice expression makes
// an append by anyone copy instead of writing into it.
var varyOrigin = []string{"Origin"}[:1:1]

// addVaryOrigin is h.Add("Vary", "Origin") without allocating when Vary is
// not set yet.
func addVaryOrigin(h http.Header) {
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v, "Origin")
		return
	}
	h["Vary"] = varyOrigin
}
