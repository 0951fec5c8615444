package middleware

import (
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"
)

// Root returns router, the root chi router that uses Stack, behind an entry
// that creates the stack's per-request state and chi's route context
// together, before the router runs. Serving through Root behaves exactly
// like serving router itself; it is only cheaper: a chi router serving a
// request on its own copies the request to put its route context in the
// request's context, and the stack's RequestID copies it again to add its
// state. Root makes one copy that carries both, which saves an allocation
// and about 370 bytes per request.
//
//	r := chi.NewRouter()
//	r.Use(stack...)
//	r.Get("/widgets/{id}", getWidget)
//	http.ListenAndServe(":8000", middleware.Root(r))
//
// Route contexts are pooled and reused once the request is served, as chi
// does with its own: a handler must not use chi.RouteContext or
// chi.URLParam after it has returned (from a goroutine it left running).
//
// Under Root, a middleware placed before the stack holds the very request
// the stack works on, not a copy: after next returns it sees the request as
// the stack changed it (RealIP rewrites RemoteAddr to the client's address,
// BodyLimit wraps Body). Served by the router alone, it would keep its own
// copy. Read what you need before calling next.
//
// A request that already has a route context (router mounted under another
// chi router) or the stack's state is passed to router unchanged.
func Root(router chi.Router) http.Handler {
	pool := sync.Pool{New: func() any { return chi.NewRouteContext() }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if stateFromContext(ctx) != nil || chi.RouteContext(ctx) != nil {
			router.ServeHTTP(w, r)
			return
		}
		rctx := pool.Get().(*chi.Context)
		rctx.Reset()
		rctx.Routes = router
		r, st := withState(r)
		st.rctx = rctx // the state answers chi.RouteCtxKey with it (see Value)
		router.ServeHTTP(w, r)
		pool.Put(rctx)
	})
}
