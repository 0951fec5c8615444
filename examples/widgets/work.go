package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"appkernel/jobs"
)

// work is how long processing a document takes besides saving it: a
// stand-in for real work, 0 unless WIDGETS_PROCESSING_TIME says otherwise
// (the scale-out test sets it so that jobs are running when it kills an
// instance).
type work time.Duration

// simulatedWork reads WIDGETS_PROCESSING_TIME: a Go duration from 0 to 1m
// such as "200ms"; unset, 0.
func simulatedWork() (work, error) {
	v := os.Getenv("WIDGETS_PROCESSING_TIME")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Minute {
		return 0, fmt.Errorf("WIDGETS_PROCESSING_TIME=%q: want a duration from 0 to 1m, such as 200ms", v)
	}
	return work(d), nil
}

// then returns h run after the work (cut short when the job's context ends).
func (w work) then(h func(context.Context, *jobs.Job, DocumentPayload) (any, error)) func(context.Context, *jobs.Job, DocumentPayload) (any, error) {
	if w == 0 {
		return h
	}
	return func(ctx context.Context, job *jobs.Job, p DocumentPayload) (any, error) {
		select {
		case <-time.After(time.Duration(w)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return h(ctx, job, p)
	}
}
