// Package auth is the kernel's identity feature: email and password
// accounts, sessions with rotating refresh tokens, HS256 access tokens,
// login throttling, and the middleware that puts the caller's identity in
// the request context.
//
// Build a Service with New, mount Service.Routes at /auth and put
// Service.Authenticate in the middleware stack; protect routes with
// RequireUser or RequireAdmin and read the caller with UserFrom:
//
//	a, err := auth.New(ctx, auth.Config{Store: store, Secret: secret})
//	r.Use(a.Authenticate)
//	r.Mount("/auth", a.Routes())
//	r.With(auth.RequireUser).Get("/widgets", listWidgets)
//
// Passwords are hashed with argon2id (m=19 MiB, t=2, p=1 by default) in PHC
// format and rehashed on login when the parameters change. Every route has
// a Go function behind it (Register, Login, Refresh, Logout, LogoutAll,
// ChangePassword) and accounts can be managed without HTTP (CreateUser,
// SetRole, MakeAdmin, SetActive, EnsureAdmin for an operator's first admin).
//
// API keys authenticate through the same Authenticate once a KeyVerifier
// (package apikeys) is set with SetKeyVerifier: the request then carries
// its owner as UserFrom and a Principal of type PrincipalAPIKey with the
// key's scopes, which RequireScope checks (users with an access token pass).
package auth
