package jobs

import (
	"encoding/json"
	"strconv"
	"time"
)

// State is where a job is in its life.
type State string

// The states of a job.
const (
	StateScheduled State = "scheduled" // waiting for its run-at time
	StatePending   State = "pending"   // ready, waiting for a worker
	StateRunning   State = "running"   // held by a worker under a lease
	StateRetrying  State = "retrying"  // failed, waiting for its backoff
	StateSucceeded State = "succeeded" // done; result kept for the retention
	StateDead      State = "dead"      // out of attempts, in the dead set
)

// Info describes a job.
type Info struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Queue       string          `json:"queue"`
	State       State           `json:"state"`
	Attempt     int             `json:"attempt"`      // runs started so far
	MaxAttempts int             `json:"max_attempts"` // 0 until a worker ran it, unless set at enqueue
	LastError   string          `json:"last_error,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"` // the handler's result, once succeeded
	Payload     json.RawMessage `json:"payload,omitempty"`
	UserID      string          `json:"user_id,omitempty"`
	WorkspaceID string          `json:"workspace_id,omitempty"`
	EnqueuedAt  time.Time       `json:"enqueued_at"`
	RunAt       time.Time       `json:"run_at"` // when it is (was) due
	StartedAt   time.Time       `json:"started_at,omitzero"`
	FinishedAt  time.Time       `json:"finished_at,omitzero"`
}

func infoFromHash(id, queue string, m map[string]string) Info {
	in := Info{
		ID:          id,
		Queue:       queue,
		Name:        m["name"],
		State:       State(m["state"]),
		Attempt:     atoi(m["attempt"]),
		MaxAttempts: atoi(m["max"]),
		LastError:   m["err"],
		UserID:      m["user"],
		WorkspaceID: m["ws"],
		EnqueuedAt:  msTime(m["enq"]),
		RunAt:       msTime(m["runat"]),
		StartedAt:   msTime(m["started"]),
		FinishedAt:  msTime(m["fin"]),
	}
	if in.RunAt.IsZero() {
		in.RunAt = in.EnqueuedAt
	}
	if p := m["payload"]; p != "" {
		in.Payload = json.RawMessage(p)
	}
	if r := m["result"]; r != "" {
		in.Result = json.RawMessage(r)
	}
	return in
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func msTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
