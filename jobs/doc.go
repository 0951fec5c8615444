// Package jobs runs background jobs on Redis: define tasks in a Registry,
// enqueue jobs with a Client, run them with a Worker.
//
//	reg := jobs.NewRegistry()
//	reg.Task("send_email", jobs.Typed(func(ctx context.Context, job *jobs.Job, p Email) (any, error) {
//		return nil, mailer.Send(ctx, p.To, p.Subject)
//	}), jobs.Timeout(30*time.Second), jobs.MaxAttempts(5))
//
//	client := jobs.NewClient(rdb, jobs.WithRegistry(reg))
//	info, err := client.Enqueue(ctx, "send_email", Email{To: "a@example.com"},
//		jobs.WithUser(userID), jobs.WithUnique("welcome:"+userID, time.Hour))
//
// # Guarantees
//
// Delivery is at least once. A running job holds a lease (WorkerOptions.Lease,
// 15 s by default) that its worker renews; if the worker dies, the job runs
// again on any worker within Lease + RecoveryInterval (about 16 s by
// default). Handlers should therefore be idempotent. Each run has a token
// of its own: a worker that lost its lease (its process stalled, or it was
// cut off from Redis, for longer than the lease) may still finish the run,
// but its renewals and its outcome are ignored, even when the job has
// since started afresh under the same id (WithID, RetryDead). A handler
// error, a panic or a timeout retries the job with exponential backoff and
// jitter; after MaxAttempts runs it goes to the dead set, where it can be
// listed (Client.ListDead), retried (Client.RetryDead) or deleted
// (Client.DeleteDead). Return Permanent(err) to skip the remaining
// attempts. A job of a task the worker has no handler for (newer code
// enqueued it during a rolling deploy) is given back to its queue without
// spending an attempt and is due again after WorkerOptions.UnknownTaskDelay,
// for a worker that has the task; the worker logs each such task name once.
// Delayed and retrying jobs become runnable within a second of
// their time; idle workers block in Redis instead of polling, so a job
// enqueued on an idle system starts within a round trip or two.
//
// Registry.Periodic runs a task on a cron schedule: each tick is enqueued
// exactly once across all workers, and ticks missed while no worker ran
// run once when one returns (see Periodic and Client.Schedules).
//
// A succeeded job and its result stay readable through Client.Status for
// WorkerOptions.ResultRetention (24 h by default); dead jobs stay until
// deleted.
//
// # Redis layout
//
// Every key starts with the prefix ("appkernel:" by default, WithPrefix and
// WorkerOptions.Prefix to change it) followed by the queue in a Redis
// Cluster hash tag, e.g. "appkernel:{default}:pending", so each queue's
// keys live in one slot and every state change is one atomic Lua script.
// Workers fetch and acknowledge jobs in batches: under load a job costs a
// fraction of a round trip to fetch and to record. On the producer side,
// Enqueue calls made on one Client while two others are already on their
// way to Redis leave together as one pipeline, so many concurrent
// producers share round trips while a lone producer's job goes out at
// once.
//
// # Running workers: embedded or as a subcommand
//
// The kernel runs a worker inside the service when jobs are configured.
// To run workers as their own processes instead, ship one binary with a
// worker subcommand, so web and worker processes always share the same
// task definitions:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		rdb := redis.NewClient(redisOptions)
//		reg := tasks.Registry() // the app's one place that registers tasks
//
//		if len(os.Args) > 1 && os.Args[1] == "worker" {
//			// myservice worker: runs jobs until SIGTERM, then lets running
//			// jobs finish for ShutdownTimeout.
//			w := jobs.NewWorker(rdb, reg, jobs.WorkerOptions{Concurrency: 20})
//			if err := w.Run(ctx); err != nil {
//				log.Fatal(err)
//			}
//			return
//		}
//		// myservice: serves HTTP and enqueues with jobs.NewClient(rdb, jobs.WithRegistry(reg)).
//	}
//
// Any number of worker processes may run against the same Redis; each job
// runs on one of them at a time.
//
// # Reaching the service from a task
//
// A handler reaches the store, the cache and a jobs client of its service
// in one line: job.Store(), job.Cache() and job.Jobs(), set by
// WorkerOptions (the kernel passes its own, in the embedded worker and in
// appkernel.RunWorker alike).
package jobs
