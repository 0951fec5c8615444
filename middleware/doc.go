// Package middleware is the kernel's HTTP middleware and the small helpers
// apps use to answer requests.
//
// Stack returns the default chain for the root chi router, in the order of
// the request flow:
//
//	RequestID → RealIP → Logger → Recover → SecurityHeaders → CORS → BodyLimit → ValidPath → (metering, auth, rate limit)
//
// Root serves the router that uses it: it makes the stack's per-request
// state and chi's route context in one copy of the request instead of two.
//
// Each piece is also usable alone: RequestID is a plain middleware; the
// configurable ones (RealIP, Logger, Recover, SecurityHeaders, CORS,
// BodyLimit) are constructors that check their settings and return an error
// rather than failing per request. NotFound and MethodNotAllowed are chi's
// 404 and 405 handlers.
//
// Every error a client sees has one JSON shape:
//
//	{"error": {"code": "not_found", "message": "widget not found", "request_id": "…"}}
//
// Handlers produce it with WriteError (from any error: an *Error, or any
// error with an HTTPStatus() int method such as db.ErrNotFound) or
// WriteErrorCode, decode bodies with DecodeJSON and answer with WriteJSON.
// Errors without an HTTP meaning are 500s whose text goes to the access log,
// never to the client (unless debug).
//
// The middlewares of one request share a single state record carried in
// the request context: RequestIDFrom, ClientIPFrom, LoggerFrom and SetUserID
// read and write it. NewContextHandler makes a logger add the request ID to
// every line logged with a request's context.
package middleware
