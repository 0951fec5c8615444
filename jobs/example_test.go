package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"appkernel/jobs"

	"github.com/redis/go-redis/v9"
)

type welcomeEmail struct {
	To string `json:"to"`
}

func ExampleRegistry_Task() {
	reg := jobs.NewRegistry()
	reg.Task("send_welcome", jobs.Typed(func(ctx context.Context, job *jobs.Job, p welcomeEmail) (any, error) {
		job.Logger.Info("sending", "to", p.To)
		return map[string]string{"sent_to": p.To}, nil
	}), jobs.Timeout(30*time.Second), jobs.MaxAttempts(5))
	fmt.Println(reg.Names())
	// Output: [send_welcome]
}

func ExampleTyped() {
	h := jobs.Typed(func(ctx context.Context, job *jobs.Job, p welcomeEmail) (any, error) {
		return "hello " + p.To, nil
	})
	// A handler is a plain function: call it directly in unit tests.
	res, err := h(context.Background(), &jobs.Job{ID: "1", Name: "send_welcome", Payload: json.RawMessage(`{"to":"ada@example.com"}`)})
	fmt.Println(res, err)
	_, err = h(context.Background(), &jobs.Job{ID: "2", Name: "send_welcome", Payload: json.RawMessage(`42`)})
	fmt.Println("permanent:", jobs.IsPermanent(err))
	// Output:
	// hello ada@example.com <nil>
	// permanent: true
}

func ExampleClient_Enqueue_noBackend() {
	// A kernel started without REDIS_URL hands out a nil *Client.
	var client *jobs.Client
	_, err := client.Enqueue(context.Background(), "send_welcome", welcomeEmail{To: "ada@example.com"})
	fmt.Println(errors.Is(err, jobs.ErrNoBackend))
	// Output: true
}

// Enqueue a job, with a user, a delay and a unique key. (Needs Redis; not
// run as a test.)
func ExampleClient_Enqueue() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	client := jobs.NewClient(rdb)
	info, err := client.Enqueue(ctx, "send_welcome", welcomeEmail{To: "ada@example.com"},
		jobs.WithUser("u_123"),
		jobs.WithDelay(time.Minute),
		jobs.WithUnique("welcome:u_123", time.Hour),
	)
	if errors.Is(err, jobs.ErrDuplicate) {
		fmt.Println("already queued as", info.ID)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	st, _ := client.Status(ctx, info.ID)
	fmt.Println(st.State) // scheduled
}

// Tie a job to an id of your own: the report of a month is enqueued under
// the month's id, so asking for it again while it is queued or running is
// refused, and asking once it finished runs it again. (Needs Redis; not
// run as a test.)
func ExampleWithID() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	client := jobs.NewClient(rdb)
	info, err := client.Enqueue(ctx, "monthly_report", map[string]string{"month": "2024-01"},
		jobs.WithID("monthly_report:2024-01"))
	if errors.Is(err, jobs.ErrDuplicateID) {
		fmt.Println("already", info.State) // pending, running, ...
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.State) // pending
}

// Run a worker until the context is cancelled, as a `myservice worker`
// subcommand does. (Needs Redis; not run as a test.)
func ExampleWorker_Run() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	reg := jobs.NewRegistry()
	reg.Task("send_welcome", func(ctx context.Context, job *jobs.Job) (any, error) {
		return nil, nil
	})
	w := jobs.NewWorker(rdb, reg, jobs.WorkerOptions{Concurrency: 20})
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
