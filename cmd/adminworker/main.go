// Command adminworker runs the admin worker of a service as its own
// process: it persists the audit and usage events that the service's
// instances, started with ADMIN_WORKER_EMBEDDED=false, ship to Redis.
//
//	REDIS_URL=redis://... REDIS_PREFIX=widget_service ADMIN_DB_URL=postgres://... go run appkernel/cmd/adminworker
//
// It reads the kernel's environment variables (appkernel.ConfigFromEnv).
// The stream's namespace must be the service's: set REDIS_PREFIX, or pass
// -name with the service's name (what the service gives appkernel.Main).
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"appkernel"
)

func main() {
	name := flag.String("name", "", "the service's name (its Redis namespace unless REDIS_PREFIX is set)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *name)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "adminworker: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string) error {
	cfg, err := appkernel.ConfigFromEnv()
	if err != nil {
		return err
	}
	if name != "" {
		cfg.Name = name
	}
	return appkernel.RunAdminWorker(ctx, cfg)
}
