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

	"appkernel"
	"appkernel/jobs"
)

func main() {
	// Reads the environment, builds the kernel, calls setup, then serves
	// HTTP (or runs the job worker) until SIGINT or SIGTERM.
	appkernel.Main("widget_service", setup)
}

// setup mounts the widget routes and registers the background tasks. The
// kernel calls it once it is built, in the web process and in the worker.
func setup(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry) error {
	if k.DB() == nil {
		return errors.New("widgets keep their data in a database: set DATABASE_URL (or leave it unset for SQLite)")
	}
	// Lists read a user's newest widgets first: index what they filter and
	// sort on (id breaks ties between equal timestamps).
	if err := k.DB().EnsureIndex(ctx, "widgets", []string{"owner_id", "created_at", "id"}, false); err != nil {
		return err
	}
	k.Mount("/widgets", Routes(k))
	k.Mount("/stats", StatsRoutes(k)) // behind the feature flag widgets.stats
	return RegisterTasks(tasks)
}
