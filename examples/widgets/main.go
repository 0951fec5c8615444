// Command widgets is the README's quick start: a service on appkernel whose
// users create, list and read their own widgets, and process documents in
// the background when Redis is configured.
//
//	go run ./examples/widgets          # the service, on :8000 (or $PORT)
//	go run ./examples/widgets worker   # a separate job worker (needs REDIS_URL)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"appkernel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "widgets:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg, err := appkernel.ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.Name = "widget_service"
	cfg.Jobs = Tasks()
	if cfg.DatabaseURL == "" {
		return errors.New("widgets keep their data in a database: set DATABASE_URL (or leave it unset for SQLite)")
	}

	if len(args) > 0 && args[0] == "worker" {
		// The same binary runs the job worker as its own process.
		return appkernel.RunWorker(ctx, cfg)
	}

	k, err := appkernel.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer k.Close()

	// Lists read a user's newest widgets first: index what they filter and
	// sort on (id breaks ties between equal timestamps).
	if err := k.DB().EnsureIndex(ctx, "widgets", []string{"owner_id", "created_at", "id"}, false); err != nil {
		return err
	}
	k.Mount("/widgets", Routes(k))

	addr := ":8000"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	return k.ListenAndServe(ctx, addr)
}
