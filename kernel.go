// Package appkernel gives a Go backend service, from one constructor, what
// every service re-implements: health and readiness endpoints, request IDs,
// security headers, JSON errors, structured logs and CORS; a schemaless
// entity store on SQLite, Postgres and MySQL; accounts, JWT sessions,
// workspaces, API keys and OAuth login; feature flags, webhooks, an audit
// trail and usage metering; Prometheus metrics and OpenTelemetry traces;
// and, with Redis, background jobs, rate limiting and caching.
//
// The kernel brings mechanisms; the app brings its routes, entities and
// tasks and mounts them with Kernel.Mount, where they get the whole stack.
package appkernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"appkernel/admin"
	"appkernel/apikeys"
	"appkernel/auth"
	"appkernel/cache"
	"appkernel/db"
	"appkernel/flags"
	"appkernel/internal/health"
	"appkernel/internal/metrics"
	"appkernel/internal/tracing"
	"appkernel/jobs"
	"appkernel/middleware"
	"appkernel/workspaces"
)

// Kernel is a configured service: an http.Handler with the kernel's routes
// and middleware, and the parts an app uses (DB, Redis, jobs, cache). Build
// it with New; the caller must call Close.
type Kernel struct {
	cfg    Config
	log    *slog.Logger
	store  *db.Store
	redis  *redis.Client
	auth   *auth.Service
	oauth  *auth.OAuth
	ws     *workspaces.Service
	keys   *apikeys.Service
	jobs   *jobs.Client
	worker *jobs.Worker
	cache  cache.Cache
	flags  *flags.Service

	metrics     *metrics.Metrics // always built; counts only when metricsOn
	metricsOn   bool             // Config.MetricsAddr is set
	metricsAddr atomic.Value     // string: the address /metrics listens on, once serving
	tracing     *tracing.Tracing // nil when tracing is off

	adminDB       *db.Store       // the admin database; k.store when ADMIN_DB_URL is DATABASE_URL
	adminRecorder *admin.Recorder // the Sink of audit and usage events; nil when the admin plane is off
	adminWorker   *admin.Worker   // the embedded admin worker; nil without Redis or when disabled
	admin         adminCapture    // see wireAdminCapture

	// stopWorker stops the embedded worker once (later calls wait for and
	// return the first one's result); nil without one.
	stopWorker func(context.Context) error
	// workerProcess is set for RunWorker's kernel, which runs its jobs in
	// the foreground instead of an embedded worker.
	workerProcess bool

	root    chi.Router
	handler http.Handler
	live    http.Handler // GET /healthz, beside the stack

	closeOnce sync.Once
	closeErr  error
	closers   []func() error
}

// New builds every part the Config asks for, checks that the database and
// Redis answer, mounts the kernel's routes, calls Config.Setup, starts the
// embedded worker and returns the Kernel. It logs one line per kernel
// feature saying whether it is on, and why not.
func New(ctx context.Context, cfg Config) (*Kernel, error) {
	return newKernel(ctx, cfg, false)
}

// newKernel is New, or with workerProcess the kernel of RunWorker: the
// parts a worker needs (all of them when Config.Setup must see them) and
// no embedded worker.
func newKernel(ctx context.Context, cfg Config, workerProcess bool) (*Kernel, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Setup != nil && cfg.Jobs == nil {
		cfg.Jobs = jobs.NewRegistry()
	}
	k := &Kernel{cfg: cfg, log: cfg.Logger, workerProcess: workerProcess}
	build := k.build
	if workerProcess && cfg.Setup == nil {
		build = k.buildWorker
	}
	err := build(ctx)
	if err == nil && cfg.Setup != nil {
		if err = cfg.Setup(ctx, k, cfg.Jobs); err != nil {
			err = fmt.Errorf("appkernel: setup: %w", err)
		}
	}
	if err == nil {
		err = k.startEmbeddedWorker(ctx)
	}
	if err != nil {
		_ = k.Close()
		return nil, err
	}
	return k, nil
}

func (c Config) withDefaults() Config {
	c = c.withValueDefaults()
	if c.Logger == nil {
		// JSON lines on stdout (twelve-factor). The kernel's JSON handler
		// writes what slog.JSONHandler writes, faster.
		c.Logger = slog.New(middleware.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: c.LogLevel}))
	}
	// Lines logged with a request's context carry its request_id, also
	// through the app's own logger.
	c.Logger = slog.New(middleware.NewContextHandler(c.Logger.Handler()))
	if c.AdminDBURL == "" {
		c.AdminDBURL = c.DatabaseURL
	}
	return c
}

func (k *Kernel) build(ctx context.Context) error {
	cfg, log := k.cfg, k.log
	feature := k.feature

	// Local containers, the database, Redis, the cache.
	for _, step := range []func(context.Context) error{k.wireDevAutostart, k.wireMetrics, k.wireTracing, k.wireDB, k.wireRedis, k.wireCache, k.wireAdmin} {
		if err := step(ctx); err != nil {
			return err
		}
	}

	// Identity.
	switch {
	case cfg.DisableAuth:
		feature("auth", "off (Config.DisableAuth)")
		feature("workspaces", "off (auth is off)")
	case k.store == nil:
		feature("auth", "off (no database: Config.DisableDatabase)")
		feature("workspaces", "off (no database: Config.DisableDatabase)")
	default:
		k.ws = workspaces.New(workspaces.Config{Store: k.store, Logger: log})
		if err := k.ws.Init(ctx); err != nil {
			return fmt.Errorf("appkernel: workspaces: %w", err)
		}
		secret, insecure := cfg.JWTSecret, false
		if secret == "" || secret == DefaultJWTSecret || len(secret) < auth.MinSecretLen {
			if secret == "" {
				secret = DefaultJWTSecret
			}
			insecure = true // validate refused this outside development and test
			log.Warn("JWT_SECRET is unset, the development default or shorter than 32 bytes; set a random secret before production")
		}
		a, err := auth.New(ctx, auth.Config{
			Store:           k.store,
			Secret:          []byte(secret),
			Insecure:        insecure,
			Issuer:          cfg.Name,
			AccessTTL:       cfg.JWTExpiry,
			AllowSelfSignup: cfg.AllowSelfSignup,
			Redis:           k.universalRedis(),
			RedisPrefix:     cfg.redisNamespace() + "auth:",
			Workspaces:      k.ws,
			Logger:          log,
			OnThrottled:     k.loginThrottleHook(),

			// In production the first admin is the operator's (ADMIN_EMAIL).
			NoFirstUserAdmin: cfg.Production(),
		})
		if err != nil {
			return fmt.Errorf("appkernel: auth: %w", err)
		}
		k.auth = a
		k.ws.SetUsers(a) // member lists show emails
		signup := "invite only"
		if cfg.AllowSelfSignup {
			signup = "open"
		}
		feature("auth", "on (self-signup "+signup+")")
		feature("workspaces", "on")
	}
	if err := k.bootstrapAdmin(ctx); err != nil {
		return err
	}
	if err := k.wireOAuth(ctx); err != nil {
		return err
	}
	if err := k.wireAPIKeys(ctx); err != nil {
		return err
	}
	if err := k.wireWebhooks(ctx); err != nil {
		return err
	}
	if err := k.wireFlags(ctx); err != nil {
		return err
	}

	// Audit and metering go to the admin recorder (a test's own sink
	// instead, when it set one).
	var sink admin.Sink = k.cfg.testAdminSink
	if sink == nil && k.adminRecorder != nil {
		sink = k.adminRecorder
	}
	k.wireAdminCapture(sink, k.adminDB)

	// Jobs: the client now, the embedded worker once Setup registered the tasks.
	if err := k.wireJobs(ctx); err != nil {
		return err
	}

	return k.routes()
}

// feature logs one start-up line saying whether a part is on, and why not.
func (k *Kernel) feature(name, state string) { k.log.Info(name + ": " + state) }

// routes builds the middleware stack and mounts the kernel's routers.
func (k *Kernel) routes() error {
	cfg, log := k.cfg, k.log
	skipLog := func(r *http.Request) bool { return r.URL.Path == "/healthz" || r.URL.Path == "/readyz" }

	var after []func(http.Handler) http.Handler
	if k.auth != nil {
		after = append(after, k.auth.Authenticate)
	}
	after = append(after, k.admin.metering) // nil (skipped) without admin capture
	switch {
	case cfg.DisableRateLimit:
		log.Info("rate limiting: off (RATE_LIMIT_ENABLED=false)")
	case k.redis == nil:
		log.Info("rate limiting: off (REDIS_URL not set)")
	default:
		rl, err := middleware.RateLimit(middleware.RateLimitOptions{
			Redis:  k.redis,
			Prefix: cfg.redisNamespace() + "rl:",
			Limit:  cfg.RateLimitRequests,
			Window: cfg.RateLimitWindow,
			Key:    rateLimitKey,
			Logger: log,

			OnDecision: k.rateLimitHook(),
		})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		after = append(after, rl)
		log.Info(fmt.Sprintf("rate limiting: on (%d per %s)", cfg.RateLimitRequests, cfg.RateLimitWindow))
	}
	stack, err := middleware.Stack(middleware.StackOptions{
		Logger:         log,
		Debug:          cfg.Debug,
		SkipLog:        skipLog,
		TrustedProxies: cfg.TrustedProxies,
		CORS: middleware.CORSOptions{
			AllowedOrigins:   cfg.CORSOrigins,
			AllowCredentials: cfg.CORSCredentials,
			AllowedHeaders:   []string{"Accept", "Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "X-Workspace-ID"},
		},
		BodyLimit: cfg.MaxBodyBytes,
		Observe:   k.observeMiddlewares(),
		After:     after,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}

	r := chi.NewRouter()
	r.NotFound(middleware.NotFound)
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Use(stack...)
	r.Get("/healthz", health.Live)
	r.Get("/readyz", health.Ready(k.readyChecks()))
	if k.auth != nil {
		r.Mount("/auth", k.auth.Routes())
		r.Mount("/workspaces", k.ws.Routes())
	}
	if k.keys != nil {
		r.Mount("/auth/api-keys", k.keys.Routes())
	}
	if k.oauth != nil {
		r.Mount("/auth/oauth", k.oauth.Routes())
	}
	k.mountFlags(r)
	if k.admin.routes != nil {
		r.Mount("/admin", k.admin.routes)
	}
	k.root = r
	k.handler = middleware.Root(r)
	k.live, err = k.liveHandler()
	return err
}

// pingRedis pings rdb within timeout. go-redis bounds a command by its own
// read timeout and retries, not by the context's deadline, so a server that
// accepts and never answers would hold the start for many seconds: the
// wait is bounded here (the ping itself ends when Close closes rdb).
func pingRedis(ctx context.Context, rdb *redis.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rdb.Ping(ctx).Err() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s (Config.ConnectTimeout): %w", timeout, ctx.Err())
	}
}

// universalRedis returns the Redis client as an interface that is nil
// (not a typed nil) without Redis.
func (k *Kernel) universalRedis() redis.UniversalClient {
	if k.redis == nil {
		return nil
	}
	return k.redis
}

// rateLimitKey limits per user, else per API key, else per client IP (an
// IPv6 client per /64, see middleware.ClientKey).
func rateLimitKey(r *http.Request) string {
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		if p.Type == auth.PrincipalAPIKey && p.KeyID != "" {
			return "key:" + p.KeyID
		}
		if p.UserID != "" {
			return "user:" + p.UserID
		}
	}
	if ip, ok := middleware.ClientIPFrom(r.Context()); ok {
		return "ip:" + middleware.ClientKey(ip)
	}
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "ip:" + middleware.ClientKey(host)
}

func (k *Kernel) readyChecks() []health.Check {
	var checks []health.Check
	if k.store != nil {
		checks = append(checks, health.Check{Name: "database", Ping: k.store.Ping})
	}
	if k.redis != nil {
		rdb := k.redis
		// Without Redis the service degrades (see README "When Redis goes
		// away"): it stays ready for what does not need Redis.
		checks = append(checks, health.Check{Name: "redis", Degrades: true, Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
	}
	return checks
}

// ServeHTTP serves a request through the kernel's stack and routes. A
// liveness probe (GET /healthz) gets its request ID and security headers
// beside the stack: it is never logged, limited or metered, and must stay
// cheap under load.
func (k *Kernel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		k.live.ServeHTTP(w, r)
		return
	}
	k.handler.ServeHTTP(w, r)
}

// Mount attaches an app router at pattern (e.g. "/widgets"); its requests
// pass through the whole kernel stack. Call it before serving.
//
// Like chi's Router.Mount, Mount panics on a mistake in the program, which
// shows the first time it starts: a pattern that does not begin with "/",
// a pattern already mounted (by an earlier Mount, or /auth and /workspaces
// while auth is on), and /healthz or /readyz, which the kernel answers.
func (k *Kernel) Mount(pattern string, h http.Handler) {
	for _, probe := range []string{"/healthz", "/readyz"} {
		if pattern == probe || strings.HasPrefix(pattern, probe+"/") {
			panic(fmt.Sprintf("appkernel: Mount(%q): %s is the kernel's own route", pattern, probe))
		}
	}
	k.root.Mount(pattern, h)
}

// Router returns the kernel's root router, for apps that add single routes.
func (k *Kernel) Router() chi.Router { return k.root }

// DB returns the entity store, or nil with Config.DisableDatabase.
func (k *Kernel) DB() *db.Store { return k.store }

// Redis returns the Redis client, or nil without REDIS_URL.
func (k *Kernel) Redis() *redis.Client { return k.redis }

// Logger returns the kernel's structured logger.
func (k *Kernel) Logger() *slog.Logger { return k.log }

// Auth returns the accounts service, or nil when auth is off.
func (k *Kernel) Auth() *auth.Service { return k.auth }

// Workspaces returns the workspaces service, or nil when auth is off.
func (k *Kernel) Workspaces() *workspaces.Service { return k.ws }

// Jobs returns the job client. It is never nil; without Redis, Enqueue on
// it returns jobs.ErrNoBackend.
func (k *Kernel) Jobs() *jobs.Client { return k.jobs }

// Cache returns the cache: Redis when configured, else in memory.
func (k *Kernel) Cache() cache.Cache { return k.cache }

// Config returns the configuration the kernel runs with, defaults applied.
func (k *Kernel) Config() Config { return k.cfg }

// Close stops the embedded worker and closes Redis and the database, in
// that order. It is safe to call more than once.
func (k *Kernel) Close() error {
	k.closeOnce.Do(func() {
		var errs []error
		for i := len(k.closers) - 1; i >= 0; i-- {
			errs = append(errs, k.closers[i]())
		}
		k.closeErr = errors.Join(errs...)
	})
	return k.closeErr
}
