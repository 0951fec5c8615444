package appkernel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"appkernel/jobs"
)

// wireJobs builds the jobs client under the Redis namespace. Without Redis
// it exists too, and Enqueue on it says jobs.ErrNoBackend. The worker
// starts later (startEmbeddedWorker), once Setup has registered the tasks.
func (k *Kernel) wireJobs(context.Context) error {
	opts := []jobs.ClientOption{jobs.WithPrefix(k.cfg.redisNamespace())}
	if k.cfg.Jobs != nil {
		opts = append(opts, jobs.WithRegistry(k.cfg.Jobs))
	}
	opts = append(opts, k.jobClientOptions()...)
	k.jobs = jobs.NewClient(k.universalRedis(), opts...)
	k.observeJobs()
	return nil
}

// buildWorker builds what RunWorker's kernel needs when no Setup asks for
// the whole kernel: the steps of build up to the jobs client.
func (k *Kernel) buildWorker(ctx context.Context) error {
	for _, step := range []func(context.Context) error{k.wireDevAutostart, k.wireMetrics, k.wireTracing, k.wireDB, k.wireRedis, k.wireCache, k.wireJobs} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// workerOptions are the options of the kernel's job worker, embedded or
// in its own process: its tasks reach the kernel's store, cache and jobs
// client through the Job.
func (k *Kernel) workerOptions() jobs.WorkerOptions {
	return jobs.WorkerOptions{
		Concurrency:     k.cfg.WorkerConcurrency,
		Prefix:          k.cfg.redisNamespace(),
		ShutdownTimeout: k.cfg.ShutdownTimeout,
		Logger:          k.log,
		Store:           k.store,
		Cache:           k.cache,
		Client:          k.jobs,
		Hooks:           k.jobHooks(),
	}
}

// startEmbeddedWorker starts the worker inside the service, when there is
// Redis, a task to run and no reason not to, and registers its stop.
func (k *Kernel) startEmbeddedWorker(ctx context.Context) error {
	cfg := k.cfg
	switch {
	case k.workerProcess:
		return nil // RunWorker runs the jobs and says so
	case k.redis == nil:
		k.feature("jobs", "off (REDIS_URL not set)")
		return nil
	case cfg.Jobs == nil:
		k.feature("jobs", "enqueue only (Config.Jobs not set, so no embedded worker)")
		return nil
	case len(cfg.Jobs.Names()) == 0:
		k.feature("jobs", "enqueue only (no task registered, so no embedded worker)")
		return nil
	case cfg.DisableEmbeddedWorker:
		k.feature("jobs", "enqueue only (embedded worker disabled by JOBS_WORKER_EMBEDDED=false; run the worker process)")
		return nil
	}
	k.worker = jobs.NewWorker(k.redis, cfg.Jobs, k.workerOptions())
	if err := k.worker.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("appkernel: jobs worker: %w", err)
	}
	w := k.worker
	var once sync.Once
	var stopErr error
	k.stopWorker = func(ctx context.Context) error {
		once.Do(func() { stopErr = w.Stop(ctx) })
		return stopErr
	}
	k.closers = append(k.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return k.stopWorker(sctx)
	})
	k.feature("jobs", fmt.Sprintf("on (embedded worker, concurrency %d, tasks %s)", cfg.WorkerConcurrency, strings.Join(cfg.Jobs.Names(), ", ")))
	return nil
}

// runWorker runs the kernel's tasks in the foreground until ctx is done,
// then lets running jobs finish within ShutdownTimeout.
func (k *Kernel) runWorker(ctx context.Context) error {
	names := k.cfg.Jobs.Names()
	if len(names) == 0 {
		return fmt.Errorf("%w: the job worker has no task to run; register them in Config.Jobs (or in Config.Setup)", ErrConfig)
	}
	stopMetrics, err := k.startMetrics()
	if err != nil {
		return err
	}
	w := jobs.NewWorker(k.redis, k.cfg.Jobs, k.workerOptions())
	if err := w.Start(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(fmt.Errorf("appkernel: jobs worker: %w", err), stopMetrics(ctx))
	}
	k.feature("jobs", fmt.Sprintf("on (worker process, concurrency %d, tasks %s)", k.cfg.WorkerConcurrency, strings.Join(names, ", ")))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(w.Stop(sctx), stopMetrics(sctx))
}
