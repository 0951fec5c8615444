package appkernel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"appkernel/admin"
	"appkernel/db"
)

// adminFeature is the name of the admin plane's start-up line.
const adminFeature = "admin (audit, usage metering)"

// adminFlushInterval is the Recorder's flush interval: how long an event
// waits in process at most, and so what a crash can lose without Redis.
const adminFlushInterval = 200 * time.Millisecond

// wireAdmin opens the admin database (ADMIN_DB_URL, the app's own store
// when it is the same URL) and migrates it, builds the Recorder every
// capture emits into (to the Redis stream with Redis, straight to the
// admin database without) and, with Redis, starts the embedded admin
// worker unless ADMIN_WORKER_EMBEDDED=false. Close stops the Recorder
// first, which ships what it holds, then the worker, then the stores.
func (k *Kernel) wireAdmin(ctx context.Context) error {
	cfg := k.cfg
	if cfg.DisableDatabase && cfg.AdminDBURL == cfg.DatabaseURL {
		k.feature(adminFeature, "off (no database: Config.DisableDatabase and no ADMIN_DB_URL)")
		return nil
	}
	store, where, err := k.openAdminDB(ctx)
	if err != nil {
		return err
	}
	k.adminDB = store

	opts := admin.RecorderOptions{Logger: k.log, FlushInterval: adminFlushInterval}
	worker := "no worker needed; a crash loses at most the last " + adminFlushInterval.String() + " of events"
	if k.redis != nil {
		opts.Redis, opts.Prefix = k.redis, cfg.redisNamespace()+"admin:"
		if cfg.DisableEmbeddedAdminWorker {
			worker = "embedded worker disabled by ADMIN_WORKER_EMBEDDED=false; run the admin worker process"
		} else {
			// Started before the Recorder, so that Close stops it after.
			w, err := k.startAdminWorker(ctx)
			if err != nil {
				return err
			}
			k.adminWorker = w
			worker = "embedded worker " + w.Consumer()
		}
	} else {
		opts.Store = store
	}
	rec, err := admin.NewRecorder(opts)
	if err != nil {
		return fmt.Errorf("appkernel: admin: %w", err)
	}
	if err := rec.Start(ctx); err != nil {
		return fmt.Errorf("appkernel: admin: %w", err)
	}
	k.closers = append(k.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return rec.Stop(sctx)
	})
	k.adminRecorder = rec
	if m := k.activeMetrics(); m != nil {
		m.AdminEvents(func() float64 { return float64(rec.Buffered()) }, func() float64 { return float64(rec.Dropped()) })
	}
	transport := "straight to it"
	if k.redis != nil {
		transport = "through the Redis stream " + opts.Prefix + "events"
	}
	k.feature(adminFeature, fmt.Sprintf("on (admin database %s; events %s; %s)", where, transport, worker))
	return nil
}

// openAdminDB opens and migrates the admin database, reusing the app's
// store when ADMIN_DB_URL is DATABASE_URL, and says which it is.
func (k *Kernel) openAdminDB(ctx context.Context) (*db.Store, string, error) {
	cfg := k.cfg
	if k.store != nil && cfg.AdminDBURL == cfg.DatabaseURL {
		if err := admin.Migrate(ctx, k.store); err != nil {
			return nil, "", fmt.Errorf("appkernel: admin database (the app database): %w", err)
		}
		return k.store, "= the app database", nil
	}
	name := "ADMIN_DB_URL"
	if cfg.AdminDBURL == cfg.DatabaseURL {
		name = "DATABASE_URL, as ADMIN_DB_URL is unset"
	}
	store, err := openStoreAt(ctx, cfg, "admin database", name, cfg.AdminDBURL, k.storeOpHook())
	if err != nil {
		return nil, "", err
	}
	k.closers = append(k.closers, store.Close)
	if m := k.activeMetrics(); m != nil {
		m.DBPool("admin", store.DB())
	}
	if err := admin.Migrate(ctx, store); err != nil {
		return nil, "", fmt.Errorf("appkernel: admin database (%s): %w", name, err)
	}
	return store, fmt.Sprintf("%s, %s", store.Dialect(), MaskURL(cfg.AdminDBURL)), nil
}

// startAdminWorker starts an admin worker on the kernel's Redis and admin
// database and registers its stop.
func (k *Kernel) startAdminWorker(ctx context.Context) (*admin.Worker, error) {
	w, err := admin.NewWorker(admin.WorkerOptions{
		Redis:  k.redis,
		Prefix: k.cfg.redisNamespace() + "admin:",
		Store:  k.adminDB,
		Logger: k.log,
	})
	if err != nil {
		return nil, fmt.Errorf("appkernel: admin worker: %w", err)
	}
	if err := w.Start(ctx); err != nil {
		return nil, fmt.Errorf("appkernel: admin worker: %w", err)
	}
	k.closers = append(k.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), k.cfg.ShutdownTimeout)
		defer cancel()
		return w.Stop(sctx)
	})
	return w, nil
}

// AdminRecorder returns the Recorder that audit and usage events go to, or nil
// when the admin plane is off (no database).
func (k *Kernel) AdminRecorder() *admin.Recorder { return k.adminRecorder }

// AdminDB returns the admin database (the app's store when ADMIN_DB_URL
// is DATABASE_URL), or nil when the admin plane is off.
func (k *Kernel) AdminDB() *db.Store { return k.adminDB }

// RunAdminWorker runs the admin worker in this process until ctx is done:
// it reads the events every instance ships to the Redis stream and
// persists them into the admin database. Run it beside services started
// with ADMIN_WORKER_EMBEDDED=false, from the module's cmd/adminworker or
// an app's own binary, with the services' REDIS_URL, namespace (Name or
// REDIS_PREFIX) and ADMIN_DB_URL. Like New it runs dev auto-start and
// refuses to start, with New's messages, when Redis or the admin database
// does not answer within ConnectTimeout.
func RunAdminWorker(ctx context.Context, cfg Config) error {
	if cfg.RedisURL == "" {
		return fmt.Errorf("%w: the admin worker process needs REDIS_URL; without Redis each instance writes its events to the admin database itself", ErrConfig)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	k := &Kernel{cfg: cfg, log: cfg.Logger}
	err := k.runAdminWorker(ctx)
	return errors.Join(err, k.Close())
}

// runAdminWorker is RunAdminWorker once the Config is checked.
func (k *Kernel) runAdminWorker(ctx context.Context) error {
	for _, step := range []func(context.Context) error{k.wireDevAutostart, k.wireRedis} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	store, where, err := k.openAdminDB(ctx)
	if err != nil {
		return err
	}
	k.adminDB = store
	w, err := admin.NewWorker(admin.WorkerOptions{
		Redis:  k.redis,
		Prefix: k.cfg.redisNamespace() + "admin:",
		Store:  store,
		Logger: k.log,
	})
	if err != nil {
		return fmt.Errorf("appkernel: admin worker: %w", err)
	}
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("appkernel: admin worker: %w", err)
	}
	k.feature("admin worker", fmt.Sprintf("on (worker process %s, stream %sadmin:events, admin database %s)", w.Consumer(), k.cfg.redisNamespace(), where))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ShutdownTimeout)
	defer cancel()
	return w.Stop(sctx)
}
