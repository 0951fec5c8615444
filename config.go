package appkernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"appkernel/admin"
	"appkernel/db"
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
	// AdminDBURL is where the admin worker will keep audit and usage events
	// (ADMIN_DB_URL). Defaults to DatabaseURL. Reserved: the admin worker is
	// not built yet, so nothing reads it today.
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
	// OAuthProviders configures OAuth login, keyed by provider name
	// ("google", "github"; GOOGLE_CLIENT_ID/SECRET, GITHUB_CLIENT_ID/SECRET).
	// Defaults to none.
	OAuthProviders map[string]OAuthProvider

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

	// DisableEmbeddedAdminWorker will leave the admin worker to a process
	// of its own (ADMIN_WORKER_EMBEDDED=false). Defaults to false:
	// embedded. Reserved, like AdminDBURL.
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

	// testAdminSink receives the audit and usage events in this branch's
	// kernel tests until the admin recorder is wired (see wireAdminCapture).
	testAdminSink admin.Sink
}

// OAuthProvider is the client registration of one OAuth provider.
type OAuthProvider struct {
	ClientID     string
	ClientSecret string
}

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
