package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"appkernel/db"
)

// Delivery states.
const (
	statePending   = "pending"   // due at next_attempt_at
	stateDelivered = "delivered" // an attempt got a 2xx
	stateFailed    = "failed"    // given up, or its webhook is gone or disabled
)

// TestEvent is the event of the test delivery of POST …/webhooks/{id}/test.
const TestEvent = "webhook.test"

var eventName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)

// Payload is the JSON body every delivery sends. Type repeats Event for
// receivers written against Standard Webhooks.
type Payload struct {
	Event     string    `json:"event"`
	Type      string    `json:"type"`
	Data      any       `json:"data"`
	Timestamp time.Time `json:"timestamp"`
}

// Trigger records event with data (anything encoding/json takes) for
// every enabled webhook of workspaceID; the dispatcher sends them. Called
// with the *db.Store a Tx gives its function, the deliveries are written
// in that transaction: they are sent if and only if it commits. An event
// name is 1 to 100 letters, digits and . _ : - (e.g. "invoice.paid");
// another is an error matching ErrInvalid.
func Trigger(ctx context.Context, store *db.Store, workspaceID, event string, data any) error {
	if !eventName.MatchString(event) {
		return invalid("event must be 1 to 100 letters, digits and . _ : -, starting with a letter or digit")
	}
	return store.Tx(ctx, func(tx *db.Store) error {
		hooks, err := tx.FindEntities(ctx, tableWebhooks, db.Query{
			Where: "[workspace_id] = ? AND [enabled] = ?", Params: []any{workspaceID, true}, Limit: maxPerWorkspace * 2,
		})
		if err != nil {
			return fmt.Errorf("webhooks: trigger %s: %w", event, err)
		}
		return enqueue(ctx, tx, hooks, event, data)
	})
}

// enqueue writes one delivery of event per webhook in hooks.
func enqueue(ctx context.Context, store *db.Store, hooks []db.Entity, event string, data any) error {
	if len(hooks) == 0 {
		return nil
	}
	store.DisableHistory(tableWebhooks, tableDeliveries)
	now := time.Now().UTC()
	body, err := json.Marshal(Payload{Event: event, Type: event, Data: data, Timestamp: now.Truncate(time.Millisecond)})
	if err != nil {
		return fmt.Errorf("webhooks: event %s: data: %w", event, err)
	}
	for _, h := range hooks {
		if _, err := store.SaveEntity(ctx, tableDeliveries, db.Entity{
			"webhook_id":      str(h, "id"),
			"workspace_id":    str(h, "workspace_id"),
			"event":           event,
			"payload":         string(body),
			"state":           statePending,
			"attempt_count":   int64(0),
			"next_attempt_at": db.FormatTime(now),
		}); err != nil {
			return fmt.Errorf("webhooks: event %s: delivery: %w", event, err)
		}
	}
	return nil
}

// SendTest records a webhook.test event for webhook id of workspaceID
// alone and returns the delivery's id. Like every delivery it is sent only
// while the webhook is enabled.
func SendTest(ctx context.Context, store *db.Store, workspaceID, id string) (string, error) {
	e, err := getEntity(ctx, store, workspaceID, id)
	if err != nil {
		return "", err
	}
	var deliveryID string
	err = store.Tx(ctx, func(tx *db.Store) error {
		if err := enqueue(ctx, tx, []db.Entity{e}, TestEvent, map[string]any{"webhook_id": id}); err != nil {
			return err
		}
		ds, err := tx.FindEntities(ctx, tableDeliveries, db.Query{
			Where: "[webhook_id] = ?", Params: []any{id}, OrderBy: "[created_at] DESC", Limit: 1,
		})
		if err == nil && len(ds) == 1 {
			deliveryID = str(ds[0], "id")
		}
		return err
	})
	return deliveryID, err
}
