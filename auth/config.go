package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/db"
)

// MinSecretLen is the shortest Secret accepted without Config.Insecure.
const MinSecretLen = 32

// MaxIdentityCacheTTL bounds Config.IdentityCacheTTL: a deactivated or
// deleted user's tokens, and a revoked session's, stop working within it.
const MaxIdentityCacheTTL = 60 * time.Second

// Config configures a Service. Store and Secret are required; every other
// field documents its default.
type Config struct {
	// Store holds the users, password hashes, sessions and refresh tokens
	// (tables users, user_passwords, auth_sessions, refresh_tokens). Required.
	Store *db.Store
	// Secret signs access tokens (HS256). Required; at least MinSecretLen
	// bytes unless Insecure.
	Secret []byte
	// Issuer is the "iss" claim written and required. Defaults to "appkernel".
	Issuer string
	// AccessTTL is the access-token lifetime. Defaults to 24 hours.
	AccessTTL time.Duration
	// RefreshTTL is the absolute lifetime of a session: refresh tokens
	// rotate on every use but the session ends RefreshTTL after login.
	// Defaults to 30 days.
	RefreshTTL time.Duration
	// RefreshGrace is how long a spent refresh token may be presented again
	// (a client that lost the response) and get the same successor back;
	// after it, presenting a spent token revokes the whole session.
	// Defaults to 10 seconds.
	RefreshGrace time.Duration
	// AllowSelfSignup lets anyone register. Defaults to false: only the
	// first user of the database (who becomes admin) and holders of a valid
	// workspace invite may.
	AllowSelfSignup bool
	// NoFirstUserAdmin turns off the development rule that the first
	// account registered in an empty database becomes admin: the first
	// registration is then like any other (refused while self-signup is
	// off, an ordinary user while it is on), and the first admin is made
	// by an operator with EnsureAdmin or CreateUser. The kernel sets it
	// with APP_ENV=production. Defaults to false.
	NoFirstUserAdmin bool
	// Redis, when set, keeps login-failure throttling in Redis (shared by
	// every process). Defaults to nil: in process memory.
	Redis redis.UniversalClient
	// RedisPrefix prefixes every Redis key of the package. Defaults to "appkernel:auth:".
	RedisPrefix string
	// Workspaces creates personal workspaces, accepts invites and answers
	// membership for X-Workspace-ID. Defaults to nil: no workspaces, and
	// User.WorkspaceID is "".
	Workspaces WorkspaceHooks
	// Logger receives the package's log lines (never a password, hash or
	// token). Defaults to slog.Default().
	Logger *slog.Logger
	// IdentityCacheTTL is how long a verified token's user, session and
	// workspace membership are cached. At most MaxIdentityCacheTTL.
	// Defaults to 30 seconds.
	IdentityCacheTTL time.Duration
	// Argon2 are the password-hashing parameters. Defaults to
	// DefaultArgon2Params(); weaker parameters need Insecure (tests only).
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds the password hashings running at once
	// (each takes Argon2.Memory). Defaults to GOMAXPROCS.
	MaxConcurrentHashes int
	// PerIPLimit is how many POST /auth/login and /auth/register requests
	// one client IP (an IPv6 client by its /64) may send per PerIPWindow,
	// counted in this process whether or not Redis is configured: it
	// guards this process's hashing slots. The budget may be spent at
	// once, then one request is earned back every PerIPWindow/PerIPLimit;
	// past it the routes answer 429 rate_limited without hashing.
	// Defaults to 60.
	PerIPLimit int
	// PerIPWindow is the period of PerIPLimit. Defaults to one minute.
	PerIPWindow time.Duration
	// Insecure accepts a Secret shorter than MinSecretLen and Argon2
	// parameters below the defaults. For development and tests only.
	Insecure bool
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// OnThrottled, when set, is told each sign-in refused by a throttle
	// before any password was checked: "account" (too many failures for
	// the account, 429 too_many_attempts) or "ip" (the client IP's
	// PerIPLimit, 429 rate_limited). The kernel counts them in its
	// metrics. Defaults to nil.
	OnThrottled func(reason string)
}

func (c Config) withDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = "appkernel"
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 24 * time.Hour
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = 30 * 24 * time.Hour
	}
	if c.RefreshGrace == 0 {
		c.RefreshGrace = 10 * time.Second
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "appkernel:auth:"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdentityCacheTTL == 0 {
		c.IdentityCacheTTL = 30 * time.Second
	}
	c.Argon2 = c.Argon2.withDefaults()
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if c.PerIPLimit == 0 {
		c.PerIPLimit = 60
	}
	if c.PerIPWindow == 0 {
		c.PerIPWindow = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("auth: invalid configuration")

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Store == nil {
		bad("Store is nil; pass the *db.Store that holds the users")
	}
	switch {
	case len(c.Secret) == 0:
		bad("Secret is empty; set it to at least %d random bytes (JWT_SECRET)", MinSecretLen)
	case len(c.Secret) < MinSecretLen && !c.Insecure:
		bad("Secret is %d bytes; use at least %d random bytes, or set Insecure for development", len(c.Secret), MinSecretLen)
	}
	if c.AccessTTL < 0 {
		bad("AccessTTL is %s; want a positive duration", c.AccessTTL)
	}
	if c.RefreshTTL < 0 {
		bad("RefreshTTL is %s; want a positive duration", c.RefreshTTL)
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		bad("RefreshGrace is %s; want a positive duration of at most a minute", c.RefreshGrace)
	}
	if c.IdentityCacheTTL < 0 || c.IdentityCacheTTL > MaxIdentityCacheTTL {
		bad("IdentityCacheTTL is %s; want a positive duration of at most %s", c.IdentityCacheTTL, MaxIdentityCacheTTL)
	}
	if c.Argon2.belowFloor() && !c.Insecure {
		d := DefaultArgon2Params()
		bad("Argon2 parameters m=%d,t=%d,p=%d are below the floor m=%d,t=%d,p=%d; raise them (weaker ones need Insecure, tests only)",
			c.Argon2.Memory, c.Argon2.Time, c.Argon2.Threads, d.Memory, d.Time, d.Threads)
	}
	if c.MaxConcurrentHashes < 0 {
		bad("MaxConcurrentHashes is %d; want a positive number", c.MaxConcurrentHashes)
	}
	if c.PerIPLimit < 0 {
		bad("PerIPLimit is %d; want a positive number of requests", c.PerIPLimit)
	}
	if c.PerIPWindow < 0 || c.PerIPWindow < time.Duration(c.PerIPLimit) {
		bad("PerIPWindow is %s; want a positive duration (at least 1ns per request of PerIPLimit)", c.PerIPWindow)
	}
	return errors.Join(errs...)
}
