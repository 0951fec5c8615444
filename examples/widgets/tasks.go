package main

import (
	"context"
	"errors"
	"time"

	"appkernel/db"
	"appkernel/jobs"
)

// DocumentPayload is the payload of the process_document task.
type DocumentPayload struct {
	WidgetID string `json:"widget_id"`
}

// RegisterTasks registers the service's background tasks. work is how long
// processing a document takes besides saving it: a stand-in for real work
// (WIDGETS_PROCESSING_TIME, default 0; the scale-out test sets it so that
// jobs are running when it kills an instance).
func RegisterTasks(tasks *jobs.Registry, work time.Duration) {
	tasks.Task("process_document", jobs.Typed(func(ctx context.Context, job *jobs.Job, p DocumentPayload) (any, error) {
		if work > 0 {
			select {
			case <-time.After(work):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return processDocument(ctx, job, p)
	}), jobs.Timeout(30*time.Second), jobs.MaxAttempts(5))
}

// processDocument reads the widget's document, processes it and saves it
// back. job.Store() is the service's entity store, in the embedded worker
// and in a worker process alike (job.Cache() and job.Jobs() likewise).
func processDocument(ctx context.Context, job *jobs.Job, p DocumentPayload) (any, error) {
	w, err := db.Get[Widget](ctx, job.Store(), "widgets", p.WidgetID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, jobs.Permanent(err) // deleted meanwhile: no retry can help
	}
	if err != nil {
		return nil, err
	}
	job.Logger.InfoContext(ctx, "processing document", "widget_id", w.ID)
	w.Status = "processed"
	if _, err := db.Save(ctx, job.Store(), "widgets", w); err != nil {
		return nil, err
	}
	return map[string]any{"widget_id": w.ID, "status": w.Status}, nil
}
