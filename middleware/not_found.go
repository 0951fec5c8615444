package middleware

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// NotFound answers an unknown route with 404 in the kernel's JSON error
// shape. Install it with chi's Router.NotFound(middleware.NotFound).
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteErrorCode(w, r, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
}

// allowCandidates are the methods MethodNotAllowed probes the router for.
var allowCandidates = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

// MethodNotAllowed answers a known route called with a method it does not
// serve: 405 in the kernel's JSON error shape, with an Allow header listing
// the methods the route does serve. Install it with chi's
// Router.MethodNotAllowed(middleware.MethodNotAllowed). (chi sets Allow only
// in its own default handler, so this one asks the router.)
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if _, ok := w.Header()["Allow"]; !ok {
		if allow := allowedMethods(r); len(allow) > 0 {
			w.Header()["Allow"] = []string{strings.Join(allow, ", ")}
		}
	}
	WriteErrorCode(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" is not allowed on "+r.URL.Path)
}

func allowedMethods(r *http.Request) []string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return nil
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if path == "" {
		path = "/"
	}
	var allow []string
	for _, m := range allowCandidates {
		if serves(rctx.Routes, m, path) {
			allow = append(allow, m)
		}
	}
	return allow
}

// serves reports whether routes has a handler for method at path. chi's
// Match is not enough: at a mount's own path (/widgets and /widgets/ for
// Mount("/widgets", sub), and every Route("/{id}", ...)) it finds the stub
// Mount registers for every method, and does not ask the mounted router,
// which serves that path as "/".
func serves(routes chi.Routes, method, path string) bool {
	rctx := chi.NewRouteContext()
	if routes.Find(rctx, method, path) == "" {
		return false
	}
	// RoutePatterns holds the pattern matched at each level: "X/*" for
	// each mount passed through, then the pattern of the last level.
	level := routes
	for i, pattern := range rctx.RoutePatterns {
		last := i == len(rctx.RoutePatterns)-1
		var sub chi.Routes
		for _, rt := range level.Routes() {
			if !last && rt.Pattern == pattern {
				sub = rt.SubRoutes
				break
			}
			if last && rt.Pattern == pattern && rt.Handlers[method] != nil {
				return true // a route of its own beside the mount's stub
			}
			if last && rt.SubRoutes != nil && (rt.Pattern == pattern+"/*" || rt.Pattern == pattern+"*") {
				sub = rt.SubRoutes
			}
		}
		if sub == nil {
			return true
		}
		if last {
			return serves(sub, method, "/")
		}
		level = sub
	}
	return true
}
