package appkernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"appkernel/jobs"
)

// SetupFunc is an app's part of a service: it mounts the app's routes on k
// (k.Mount) and registers its background tasks in tasks. It runs once the
// kernel is built and before its embedded worker starts, so the worker
// knows every task; ctx is cancelled when the service stops. See
// Config.Setup, Run and Main.
type SetupFunc func(ctx context.Context, k *Kernel, tasks *jobs.Registry) error

// Main is the whole main function of a service binary:
//
//	func main() { appkernel.Main("widget_service", setup) }
//
// It reads the configuration from the environment (ConfigFromEnv), names
// the service (Config.Name, also the default Redis namespace), and runs it
// with setup (Run) until SIGINT or SIGTERM, then shuts down gracefully.
// Without arguments the binary serves HTTP on PORT (8000 by default);
// `myservice worker` runs the job worker instead. On an error it prints
// it on stderr and exits with status 1.
func Main(name string, setup SetupFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runFromEnv(ctx, name, setup, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func runFromEnv(ctx context.Context, name string, setup SetupFunc, args []string) error {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.Name = name
	cfg.Setup = setup
	return Run(ctx, cfg, args)
}

// Run runs the service cfg describes until ctx is done. args are the
// command-line arguments after the program's name: none builds the kernel
// (New, which calls cfg.Setup) and serves HTTP on cfg.Addr until ctx is
// done, then shuts down gracefully and closes the kernel; "worker" runs the
// job worker instead (RunWorker). Anything else is an error saying what is
// accepted. Main is Run with the configuration read from the environment.
func Run(ctx context.Context, cfg Config, args []string) error {
	switch {
	case len(args) == 1 && args[0] == "worker":
		return RunWorker(ctx, cfg)
	case len(args) > 0:
		return fmt.Errorf("%w: unknown arguments %q: run without arguments to serve HTTP, or with the one argument worker to run the job worker", ErrConfig, args)
	}
	k, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	err = k.ListenAndServe(ctx, k.cfg.Addr)
	return errors.Join(err, k.Close())
}

// RunWorker runs the tasks of cfg in this process until ctx is done, then
// lets running jobs finish within ShutdownTimeout: the `myservice worker`
// half of a service binary. Like New it runs dev auto-start, opens
// DATABASE_URL and connects to REDIS_URL (which it needs), and refuses to
// start, with New's messages, when one does not answer within
// ConnectTimeout. Its tasks reach the store, cache and jobs client through
// job.Store(), job.Cache() and job.Jobs(). With cfg.Setup it builds the
// whole kernel, as New does, so that Setup finds what it finds there, and
// runs the tasks Setup registers; otherwise it runs cfg.Jobs.
func RunWorker(ctx context.Context, cfg Config) error {
	if cfg.RedisURL == "" {
		return fmt.Errorf("%w: the job worker needs REDIS_URL", ErrConfig)
	}
	if cfg.Jobs == nil && cfg.Setup == nil {
		return fmt.Errorf("%w: the job worker needs Config.Jobs (or Config.Setup registering the tasks)", ErrConfig)
	}
	k, err := newKernel(ctx, cfg, true)
	if err != nil {
		return err
	}
	err = k.runWorker(ctx)
	return errors.Join(err, k.Close())
}
