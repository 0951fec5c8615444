// Package apikeys gives service-to-service callers API keys: long-lived
// secrets ("sk_live_…") that authenticate as their owner wherever an
// access token does, limited by scopes, an expiry and, optionally, one
// workspace.
//
// A key is shown once, when it is created; only the SHA-256 of its text is
// stored (table api_keys, without history). Its body carries a checksum,
// so a mistyped or made-up key is refused before any database lookup.
//
// The package has two layers. The functions Create, List and Revoke work
// on a *db.Store alone (a script, a migration, a test). A Service, built by
// the kernel with its Store, Redis and logger, adds what a running server
// needs: it is the auth.KeyVerifier behind auth.Service.Authenticate
// (looked-up keys cached at most CacheTTL, revocations published on Redis
// to every instance), writes last-used times off the request path, and
// serves the /auth/api-keys routes.
package apikeys
