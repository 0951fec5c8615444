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

// RegisterTasks registers the service's background tasks.
func RegisterTasks(tasks *jobs.Registry) error {
	work, err := simulatedWork() // WIDGETS_PROCESSING_TIME, see work.go
	if err != nil {
		return err
	}
	tasks.Task("process_document", jobs.Typed(work.then(processDocument)), jobs.Timeout(30*time.Second), jobs.MaxAttempts(5))
	return nil
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
