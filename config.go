package appkernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/internal/tracing"
	"appkernel/jobs"
	"appkernel/middleware"
)

// DefaultJWTSecret is the development secret used when JWT_SECRET is unset.
// The kernel logs a warning when it runs with it and refuses to start with it
// outside the development and test environments.
const DefaultJWTSecret = "dev-secret-change-me"

// DefaultDatabaseURL is the database used when DATABASE_URL is unset.
const DefaultDatabaseURL = "sqlite:///./data/app.db"

// The environments APP_ENV accepts.
const (
	EnvDevelopment = "development"
	EnvTest        = "test"
	EnvProduction  = "production"
)

// maxJWTExpiry bounds JWT_EXPIRY_HOURS: a year.
const maxJWTExpiry = 365 * 24 * time.Hour

// ErrConfig is wrapped by every configuration error returned by
// ConfigFromEnv and New.
var ErrConfig = errors.New("appkernel: invalid configuration")

// Config holds every option of the kernel. The zero Config is the default
// service: each field documents the value its zero value stands for
// ("Defaults to"), and every switch is phrased so that false is the
// default. ConfigFromEnv starts from the same defaults and reads the
// environment; DefaultConfig returns them filled in.
type Config struct {
	// Name of the service, used in logs and as the JWT issuer. Defaults to "appkernel".
	Name string
	// Env is the deployment environment (APP_ENV): "development", "test"
	// or "production"; anything else refuses to start. Outside development
	// and test a weak JWT secret refuses to start, and production turns dev
	// auto-start off. Defaults to "development".
	Env string
	// Debug shows internal error messages in 500 responses (DEBUG). Defaults to false.
	Debug bool
	// LogLevel is the minimum level of the JSON logger (LOG_LEVEL: debug, info,
	// warn, error). Defaults to info. Ignored when Logger is set.
	LogLevel slog.Level
	// Logger receives every log line of the kernel. Defaults to JSON lines on stdout at LogLevel.
	Logger *slog.Logger

	// DatabaseURL is the app database (DATABASE_URL): sqlite:///./rel.db,
	// sqlite:////abs.db, postgres://..., mysql://... Defaults to
	// DefaultDatabaseURL, a SQLite file under ./data.
	DatabaseURL string
	// MaxColumns bounds the columns of each table of the app database
	// (MAX_COLUMNS), the store's four own included: a save whose new fields
	// would pass it is refused (db.Config.MaxColumns). Defaults to 200.
	MaxColumns int
	// DisableDatabase runs the service without a database, and so without
	// auth and workspaces. Defaults to false.
	DisableDatabase bool
	// AdminDBURL is the admin database, where audit and usage events are
	// kept (ADMIN_DB_URL). Defaults to DatabaseURL (the app's own store).
	AdminDBURL string
	// RedisURL switches on jobs, rate limiting, the Redis cache and metering
	// (REDIS_URL, e.g. redis://localhost:6379/0). Defaults to empty: off.
	RedisURL string
	// RedisPrefix is the namespace of every Redis key the kernel writes
	// (REDIS_PREFIX): jobs, rate limiting, the login throttle and the cache
	// write under RedisPrefix + ":", so services sharing one Redis database
	// stay apart. Defaults to Name.
	RedisPrefix string
	// DisableDevAutostart stops the kernel from starting a local Docker
	// container for a localhost database or Redis URL that does not answer
	// (DEV_AUTOSTART=false). Defaults to false: auto-start is on, except
	// in production, where it is always off.
	DisableDevAutostart bool

	// DisableAuth leaves /auth and /workspaces unmounted and requests
	// unauthenticated. Defaults to false: auth and workspaces are on
	// whenever there is a database.
	DisableAuth bool
	// JWTSecret signs access tokens (JWT_SECRET). Defaults to
	// DefaultJWTSecret with a warning; outside development and test it
	// must be 32 bytes or more and not the default.
	JWTSecret string
	// JWTExpiry is the access-token lifetime (JWT_EXPIRY_HOURS, in hours),
	// from 1s to a year. Defaults to 24h.
	JWTExpiry time.Duration
	// AllowSelfSignup lets anyone register (ALLOW_SELF_SIGNUP). Defaults to
	// false: only the first user and holders of a workspace invite may.
	AllowSelfSignup bool
	// AdminEmail and AdminPassword make the first admin of a deployment
	// (ADMIN_EMAIL, ADMIN_PASSWORD; both or neither): at start-up the
	// kernel creates an admin account with them unless an account with
	// that email exists, whose password and role are never changed. In
	// production (Env "production") this, or auth.Service.EnsureAdmin from
	// a seed script, is the only way to a first admin. Defaults to unset.
	AdminEmail    string
	AdminPassword string
	// OAuthProviders configures OAuth login, keyed by provider name: the
	// path segment of /auth/oauth/{provider}. "google" and "github" need
	// only their credentials (GOOGLE_CLIENT_ID/SECRET,
	// GITHUB_CLIENT_ID/SECRET); "oidc" is any OpenID Connect issuer
	// (OIDC_ISSUER_URL, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET); other names
	// give their endpoints. OAuth login is mounted when one is set.
	// Defaults to none.
	OAuthProviders map[string]OAuthProvider
	// PublicURL is the service's external base URL (PUBLIC_URL), e.g.
	// https://api.example.com: OAuth callbacks are PublicURL +
	// /auth/oauth/{provider}/callback, the URL registered with each
	// provider. Defaults to empty: the request's own scheme and Host
	// header, which the client chooses — accepted in development and
	// test only; production with OAuth providers requires it.
	PublicURL string
	// OAuthRedirectOrigins are the origins (scheme://host[:port], exact)
	// an OAuth sign-in may return to besides paths of this service
	// (OAUTH_REDIRECT_ORIGINS, comma-separated), such as a frontend on
	// another host. In development any port of localhost, 127.0.0.1 and
	// [::1] is accepted too. Defaults to none.
	OAuthRedirectOrigins []string

	// CORSOrigins are the allowed origins (CORS_ORIGINS, comma-separated).
	// Defaults to ["*"] (any origin, without credentials).
	CORSOrigins []string
	// CORSCredentials allows cookies and Authorization on cross-origin
	// requests (CORS_CREDENTIALS); it needs explicit origins. Defaults to false.
	CORSCredentials bool
	// TrustedProxies are the IPs or CIDRs whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES, comma-separated). Defaults to none.
	TrustedProxies []string
	// MaxBodyBytes caps request bodies. Defaults to 1 MiB.
	MaxBodyBytes int64

	// DisableRateLimit turns rate limiting off (RATE_LIMIT_ENABLED=false).
	// Defaults to false: with Redis, requests are limited per user, API
	// key or IP.
	DisableRateLimit bool
	// RateLimitRequests is the number of requests allowed per window
	// (RATE_LIMIT_REQUESTS). Defaults to 100.
	RateLimitRequests int
	// RateLimitWindow is the window of RateLimitRequests (RATE_LIMIT_WINDOW,
	// seconds or a Go duration). Defaults to 60s.
	RateLimitWindow time.Duration

	// DisableEmbeddedAdminWorker leaves the admin worker, with Redis, to a
	// process of its own (ADMIN_WORKER_EMBEDDED=false; cmd/adminworker or
	// RunAdminWorker). Defaults to false: every instance embeds one.
	DisableEmbeddedAdminWorker bool

	// Jobs are the app's background tasks. With Redis, the kernel runs an
	// embedded worker for them unless DisableEmbeddedWorker. Defaults to nil.
	Jobs *jobs.Registry
	// Setup, when set, is called by New once the kernel is built and
	// before its embedded worker starts: it mounts the app's routes on k
	// and registers its tasks in tasks (Config.Jobs, made when nil). Run
	// and Main set it. Defaults to nil.
	Setup SetupFunc
	// DisableEmbeddedWorker leaves the running of Jobs to a separate worker
	// process (see RunWorker; JOBS_WORKER_EMBEDDED=false). Defaults to false.
	DisableEmbeddedWorker bool
	// WorkerConcurrency is how many jobs a worker runs at once
	// (WORKER_CONCURRENCY). Defaults to 10.
	WorkerConcurrency int

	// WebhooksAllowPrivate lets webhook endpoints resolve to loopback,
	// private, link-local and other non-public addresses
	// (WEBHOOKS_ALLOW_PRIVATE=true): for development and tests only, as it
	// lets a workspace admin make the service call its own network.
	// Defaults to false: the dispatcher's SSRF guard refuses them.
	WebhooksAllowPrivate bool

	// Addr is where Run serves HTTP (PORT: ":"+PORT). Defaults to ":8000".
	Addr string

	// ShutdownTimeout bounds graceful shutdown: ListenAndServe's draining of
	// in-flight requests and the embedded worker's running jobs share it.
	// Defaults to 10s.
	ShutdownTimeout time.Duration
	// ConnectTimeout bounds how long New waits for the database and Redis
	// to answer; one that does not answer in time refuses the start.
	// Defaults to 10s.
	ConnectTimeout time.Duration

	// MetricsAddr is where /metrics is served in the Prometheus text
	// format (METRICS_ADDR, e.g. ":9090"), on a listener of its own, never
	// on the public one; it starts and stops with ListenAndServe and with
	// RunWorker. Set, the kernel counts requests, store operations, jobs,
	// rate limiting, cache reads and login refusals (see Kernel.Metrics).
	// Defaults to "": no metrics, and no cost per request.
	MetricsAddr string
	// Tracing exports OpenTelemetry traces over OTLP/HTTP, configured by the
	// standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
	// OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...). ConfigFromEnv sets it
	// when either endpoint is set, unless OTEL_SDK_DISABLED=true or
	// OTEL_TRACES_EXPORTER=none. Defaults to false: no exporter, and no
	// cost per request.
	Tracing bool
	// TracerProvider, when set, makes the kernel's spans instead of the
	// OTLP provider Tracing builds (tracing is then on whatever Tracing
	// says); the caller shuts it down. Defaults to nil.
	TracerProvider trace.TracerProvider
	// testAdminSink receives the audit and usage events in this branch's
	// kernel tests until the admin recorder is wired (see wireAdminCapture).
	testAdminSink admin.Sink
}

// OAuthProvider is the client registration of one OAuth provider and its
// endpoints (see auth.OAuthProvider for its fields and defaults).
type OAuthProvider = auth.OAuthProvider

// DefaultConfig returns the zero Config with its documented defaults
// filled in: what New runs with when given Config{} (New also builds the
// Logger and sets AdminDBURL from DatabaseURL). Changing a field of its
// result is the same as setting that field in a Config literal.
func DefaultConfig() Config { return Config{}.withValueDefaults() }

// withValueDefaults replaces zero values by the defaults their fields
// document. The Logger and values derived from other fields (AdminDBURL)
// are left to withDefaults, so that DefaultConfig's result can be changed
// field by field.
func (c Config) withValueDefaults() Config {
	if c.Name == "" {
		c.Name = "appkernel"
	}
	if c.Addr == "" {
		c.Addr = ":8000"
	}
	if c.Env == "" {
		c.Env = EnvDevelopment
	}
	if c.DatabaseURL == "" && !c.DisableDatabase {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.JWTExpiry == 0 {
		c.JWTExpiry = 24 * time.Hour
	}
	if c.CORSOrigins == nil {
		c.CORSOrigins = []string{"*"}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = middleware.DefaultBodyLimit
	}
	if c.RateLimitRequests == 0 {
		c.RateLimitRequests = 100
	}
	if c.RateLimitWindow == 0 {
		c.RateLimitWindow = time.Minute
	}
	if c.WorkerConcurrency <= 0 {
		c.WorkerConcurrency = 10
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return c
}

// ConfigFromEnv returns DefaultConfig overridden by the environment
// variables the README lists. A bad value is an error wrapping ErrConfig
// that names the variable, the value and what is wanted.
func ConfigFromEnv() (Config, error) {
	return configFromLookup(os.LookupEnv)
}

func configFromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	e := envReader{lookup: lookup}
	if e.str("APP_ENV", &c.Env) {
		c.Env = strings.ToLower(c.Env)
	}
	e.boolean("DEBUG", &c.Debug)
	e.level("LOG_LEVEL", &c.LogLevel)
	e.str("DATABASE_URL", &c.DatabaseURL)
	e.positiveInt("MAX_COLUMNS", &c.MaxColumns)
	e.str("ADMIN_DB_URL", &c.AdminDBURL)
	e.str("REDIS_URL", &c.RedisURL)
	e.str("REDIS_PREFIX", &c.RedisPrefix)
	e.port("PORT", &c.Addr)
	e.enabled("DEV_AUTOSTART", &c.DisableDevAutostart)
	e.str("JWT_SECRET", &c.JWTSecret)
	e.hours("JWT_EXPIRY_HOURS", &c.JWTExpiry, maxJWTExpiry)
	e.boolean("ALLOW_SELF_SIGNUP", &c.AllowSelfSignup)
	e.str("ADMIN_EMAIL", &c.AdminEmail)
	e.str("ADMIN_PASSWORD", &c.AdminPassword)
	e.list("CORS_ORIGINS", &c.CORSOrigins)
	e.boolean("CORS_CREDENTIALS", &c.CORSCredentials)
	e.list("TRUSTED_PROXIES", &c.TrustedProxies)
	e.enabled("RATE_LIMIT_ENABLED", &c.DisableRateLimit)
	e.positiveInt("RATE_LIMIT_REQUESTS", &c.RateLimitRequests)
	e.duration("RATE_LIMIT_WINDOW", &c.RateLimitWindow)
	e.enabled("ADMIN_WORKER_EMBEDDED", &c.DisableEmbeddedAdminWorker)
	e.positiveInt("WORKER_CONCURRENCY", &c.WorkerConcurrency)
	e.boolean("WEBHOOKS_ALLOW_PRIVATE", &c.WebhooksAllowPrivate)
	if e.str("METRICS_ADDR", &c.MetricsAddr) && c.MetricsAddr != "" && !strings.Contains(c.MetricsAddr, ":") {
		c.MetricsAddr = ":" + c.MetricsAddr // a bare port
	}
	c.Tracing = tracing.Enabled(func(name string) string { v, _ := e.get(name); return v })
	embedded := !c.DisableEmbeddedWorker
	e.boolean("JOBS_WORKER_EMBEDDED", &embedded)
	c.DisableEmbeddedWorker = !embedded
	for _, p := range []struct{ name, prefix string }{{"google", "GOOGLE"}, {"github", "GITHUB"}} {
		var id, secret string
		e.str(p.prefix+"_CLIENT_ID", &id)
		e.str(p.prefix+"_CLIENT_SECRET", &secret)
		if id == "" && secret == "" {
			continue
		}
		if id == "" || secret == "" {
			e.fail(p.prefix+"_CLIENT_ID", id, "both "+p.prefix+"_CLIENT_ID and "+p.prefix+"_CLIENT_SECRET to be set")
			continue
		}
		if c.OAuthProviders == nil {
			c.OAuthProviders = map[string]OAuthProvider{}
		}
		c.OAuthProviders[p.name] = OAuthProvider{ClientID: id, ClientSecret: secret}
	}
	var oidc OAuthProvider
	e.str("OIDC_ISSUER_URL", &oidc.IssuerURL)
	e.str("OIDC_CLIENT_ID", &oidc.ClientID)
	e.str("OIDC_CLIENT_SECRET", &oidc.ClientSecret)
	switch {
	case oidc.IssuerURL == "" && oidc.ClientID == "" && oidc.ClientSecret == "":
	case oidc.IssuerURL == "" || oidc.ClientID == "" || oidc.ClientSecret == "":
		e.fail("OIDC_ISSUER_URL", oidc.IssuerURL, "OIDC_ISSUER_URL, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET all set, or none")
	default:
		if c.OAuthProviders == nil {
			c.OAuthProviders = map[string]OAuthProvider{}
		}
		c.OAuthProviders["oidc"] = oidc
	}
	e.str("PUBLIC_URL", &c.PublicURL)
	e.list("OAUTH_REDIRECT_ORIGINS", &c.OAuthRedirectOrigins)
	if err := errors.Join(e.errs...); err != nil {
		return Config{}, err
	}
	c = c.withValueDefaults() // a variable set to "" means its default
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// validate checks what can be checked without I/O. Its errors name the field
// (and its environment variable) and say what to do.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch strings.ToLower(c.Env) {
	case "", EnvDevelopment, EnvTest, EnvProduction:
	default:
		bad("Env (APP_ENV) is %q; want %s, %s or %s", c.Env, EnvDevelopment, EnvTest, EnvProduction)
	}
	for _, u := range []struct{ name, val string }{{"DATABASE_URL", c.DatabaseURL}, {"ADMIN_DB_URL", c.AdminDBURL}} {
		if u.val == "" || u.name == "DATABASE_URL" && c.DisableDatabase {
			continue
		}
		scheme, _, ok := strings.Cut(u.val, "://")
		switch {
		case !ok:
			bad("%s %q is not a URL; want sqlite:///path, postgres://... or mysql://...", u.name, MaskURL(u.val))
		case scheme != "sqlite" && scheme != "postgres" && scheme != "postgresql" && scheme != "mysql":
			bad("%s %q has scheme %q; want sqlite, postgres, postgresql or mysql", u.name, MaskURL(u.val), scheme)
		}
	}
	if c.MaxColumns < 0 {
		bad("MaxColumns (MAX_COLUMNS) is %d; want a positive number, or 0 for the default of %d", c.MaxColumns, db.DefaultMaxColumns)
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("REDIS_URL %q is not a redis:// or rediss:// URL with a host", MaskURL(c.RedisURL))
		}
	}
	if ns := c.redisNamespace(); strings.ContainsAny(ns, "{}") {
		bad("the Redis namespace %q (RedisPrefix, REDIS_PREFIX, else Name) must not contain braces, which would break the Redis Cluster hash tags of job keys; set REDIS_PREFIX", ns)
	}
	if c.JWTExpiry != 0 && (c.JWTExpiry < time.Second || c.JWTExpiry > maxJWTExpiry) {
		bad("JWTExpiry (JWT_EXPIRY_HOURS) is %s; want from 1s to %s (a year)", c.JWTExpiry, maxJWTExpiry)
	}
	if !c.DisableRateLimit && (c.RateLimitRequests < 0 || c.RateLimitWindow < 0 || c.RateLimitWindow > 0 && c.RateLimitWindow < time.Millisecond) {
		bad("rate limit %d per %s; want positive RATE_LIMIT_REQUESTS and a RATE_LIMIT_WINDOW of at least 1ms", c.RateLimitRequests, c.RateLimitWindow)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		bad("set both ADMIN_EMAIL and ADMIN_PASSWORD (AdminEmail, AdminPassword) to make the first admin, or neither")
	}
	if c.CORSCredentials && (len(c.CORSOrigins) == 0 || slices.Contains(c.CORSOrigins, "*")) {
		bad("CORS_CREDENTIALS=true with CORS_ORIGINS=%s; list the allowed origins explicitly", strings.Join(c.CORSOrigins, ","))
	} else if _, err := middleware.CORS(middleware.CORSOptions{AllowedOrigins: c.CORSOrigins, AllowCredentials: c.CORSCredentials}); err != nil {
		bad("CORS_ORIGINS=%s: %v", strings.Join(c.CORSOrigins, ","), err)
	}
	if _, err := middleware.RealIP(c.TrustedProxies); err != nil {
		bad("TRUSTED_PROXIES=%s: %v", strings.Join(c.TrustedProxies, ","), err)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("PUBLIC_URL %q is not the service's external base URL; want e.g. https://api.example.com", c.PublicURL)
		}
	} else if len(c.OAuthProviders) > 0 && !c.devOrTest() {
		bad("OAuth providers are configured but PUBLIC_URL (PublicURL) is unset; APP_ENV=%s needs the external base URL the callbacks are registered under", c.Env)
	}
	for _, o := range c.OAuthRedirectOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			bad("OAUTH_REDIRECT_ORIGINS entry %q; want an origin scheme://host[:port] without a path", o)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR=%s (MetricsAddr): %v; want host:port or :port, e.g. :9090", c.MetricsAddr, err)
		} else if c.MetricsAddr == c.Addr {
			bad("METRICS_ADDR=%s is the public address (PORT); /metrics needs a listener of its own", c.MetricsAddr)
		}
	}
	if !c.devOrTest() {
		switch {
		case c.JWTSecret == "" || c.JWTSecret == DefaultJWTSecret:
			bad("JWT_SECRET is unset or the development default; APP_ENV=%s needs a random secret of at least 32 bytes (only development and test run without one)", c.Env)
		case len(c.JWTSecret) < 32:
			bad("JWT_SECRET is %d bytes; APP_ENV=%s needs at least 32 (only development and test accept less)", len(c.JWTSecret), c.Env)
		}
	}
	return errors.Join(errs...)
}

// Production reports whether Env is "production".
func (c *Config) Production() bool { return strings.EqualFold(c.Env, EnvProduction) }

// devOrTest reports whether Env is development (or unset) or test, the
// environments that may run with a weak JWT secret.
func (c *Config) devOrTest() bool {
	return c.Env == "" || strings.EqualFold(c.Env, EnvDevelopment) || strings.EqualFold(c.Env, EnvTest)
}

// MaskURL returns u with any password replaced by "xxxxx", for logs and errors.
func MaskURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
			if k := strings.Index(u[i+3:j], ":"); k >= 0 {
				return u[:i+3+k+1] + "xxxxx" + u[j:]
			}
		}
		return u
	}
	if _, has := p.User.Password(); has {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}

type envReader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (e *envReader) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	if !ok {
		return "", false
	}
	return strings.TrimSpace(v), true
}

func (e *envReader) fail(name, val, want string) {
	if strings.Contains(name, "SECRET") || strings.Contains(name, "URL") {
		val = MaskURL(val)
	}
	e.errs = append(e.errs, fmt.Errorf("%w: %s=%q: want %s", ErrConfig, name, val, want))
}

func (e *envReader) str(name string, dst *string) bool {
	v, ok := e.get(name)
	if ok {
		*dst = v
	}
	return ok
}

// enabled reads a variable named for a feature being on (RATE_LIMIT_ENABLED)
// into the field that switches it off (DisableRateLimit).
func (e *envReader) enabled(name string, disable *bool) {
	on := !*disable
	e.boolean(name, &on)
	*disable = !on
}

// hours reads a whole number of hours from 1 to max.
func (e *envReader) hours(name string, dst *time.Duration, max time.Duration) {
	n := 0
	e.positiveInt(name, &n)
	switch {
	case n == 0:
	case time.Duration(n) > max/time.Hour:
		e.fail(name, strconv.Itoa(n), fmt.Sprintf("a whole number of hours from 1 to %d (a year)", max/time.Hour))
	default:
		*dst = time.Duration(n) * time.Hour
	}
}

func (e *envReader) boolean(name string, dst *bool) {
	v, ok := e.get(name)
	if !ok || v == "" {
		return
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		*dst = true
	case "0", "false", "no", "off":
		*dst = false
	default:
		e.fail(name, v, "true or false")
	}
}

func (e *envReader) positiveInt(name string, dst *int) {
	v, ok := e.get(name)
	if !ok || v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		e.fail(name, v, "a positive whole number")
		return
	}
	*dst = n
}

func (e *envReader) duration(name string, dst *time.Duration) {
	v, ok := e.get(name)
	if !ok || v == "" {
		return
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		*dst = time.Duration(n) * time.Second
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail(name, v, "a positive number of seconds (60) or a Go duration (1m)")
		return
	}
	*dst = d
}

func (e *envReader) port(name string, addr *string) {
	v, ok := e.get(name)
	if !ok || v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		e.fail(name, v, "a port number from 1 to 65535")
		return
	}
	*addr = ":" + strconv.Itoa(n)
}

func (e *envReader) list(name string, dst *[]string) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	*dst = out
}

func (e *envReader) level(name string, dst *slog.Level) {
	v, ok := e.get(name)
	if !ok || v == "" {
		return
	}
	if err := dst.UnmarshalText([]byte(v)); err != nil {
		e.fail(name, v, "debug, info, warn or error")
	}
}
