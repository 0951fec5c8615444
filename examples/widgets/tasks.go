package main

import (
	"context"
	"time"

	"appkernel/jobs"
)

// DocumentPayload is the payload of the process_document task.
type DocumentPayload struct {
	WidgetID string `json:"widget_id"`
}

// Tasks registers the service's background tasks.
func Tasks() *jobs.Registry {
	reg := jobs.NewRegistry()
	reg.Task("process_document", jobs.Typed(processDocument), jobs.Timeout(30*time.Second), jobs.MaxAttempts(5))
	return reg
}

func processDocument(ctx context.Context, job *jobs.Job, p DocumentPayload) (any, error) {
	job.Logger.InfoContext(ctx, "processing document", "widget_id", p.WidgetID)
	return map[string]any{"widget_id": p.WidgetID, "pages": 1}, nil
}
