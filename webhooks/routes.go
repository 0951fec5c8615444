package webhooks

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/db"
	"appkernel/middleware"
	"appkernel/workspaces"
)

// Mount adds the webhook routes to every workspace of ws, for its owners
// and admins (members get 403, outsiders 404, like the workspace's own
// routes). Call it before ws.Routes.
//
//	POST   /workspaces/{id}/webhooks                      {"url","description"} → 201 the webhook with its "secret" (shown once)
//	GET    /workspaces/{id}/webhooks                      → 200 the webhooks, without secrets
//	DELETE /workspaces/{id}/webhooks/{wid}                → 204
//	POST   /workspaces/{id}/webhooks/{wid}/rotate-secret  → 200 {"secret"}; the previous one signs too for 24 h
//	POST   /workspaces/{id}/webhooks/{wid}/test           → 202 {"delivery_id"} of a webhook.test event
//	GET    /workspaces/{id}/webhooks/{wid}/deliveries     → 200 the latest 50 deliveries with their attempts
func Mount(ws *workspaces.Service, store *db.Store) {
	h := &handlers{store: store}
	ws.Extend(func(r chi.Router) {
		r.Route("/webhooks", func(r chi.Router) {
			r.Use(ws.RequireRole(workspaces.RoleAdmin))
			r.Post("/", h.create)
			r.Get("/", h.list)
			r.Delete("/{wid}", h.delete)
			r.Post("/{wid}/rotate-secret", h.rotate)
			r.Post("/{wid}/test", h.test)
			r.Get("/{wid}/deliveries", h.deliveries)
		})
	})
}

type handlers struct{ store *db.Store }

func workspaceOf(r *http.Request) string {
	id, _ := workspaces.WorkspaceIDFrom(r.Context())
	return id
}

// Created is the answer to a create: the webhook and its secret, once.
type Created struct {
	Webhook
	Secret string `json:"secret"`
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL         string `json:"url"`
		Description string `json:"description"`
	}
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	wh, secret, err := Create(r.Context(), h.store, workspaceOf(r), in.URL, Options{Description: in.Description})
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusCreated, Created{Webhook: wh, Secret: secret})
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	list, err := List(r.Context(), h.store, workspaceOf(r))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, list)
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := Delete(r.Context(), h.store, workspaceOf(r), chi.URLParam(r, "wid")); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handlers) rotate(w http.ResponseWriter, r *http.Request) {
	secret, err := RotateSecret(r.Context(), h.store, workspaceOf(r), chi.URLParam(r, "wid"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, map[string]string{"secret": secret})
}

func (h *handlers) test(w http.ResponseWriter, r *http.Request) {
	id, err := SendTest(r.Context(), h.store, workspaceOf(r), chi.URLParam(r, "wid"))
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusAccepted, map[string]string{"delivery_id": id})
}

func (h *handlers) deliveries(w http.ResponseWriter, r *http.Request) {
	list, err := Deliveries(r.Context(), h.store, workspaceOf(r), chi.URLParam(r, "wid"), 50)
	if err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, list)
}

// Delivery is one event for one webhook, with its attempts so far.
type Delivery struct {
	ID            string     `json:"id"` // the webhook-id header of every attempt
	WebhookID     string     `json:"webhook_id"`
	Event         string     `json:"event"`
	State         string     `json:"state"` // pending, delivered or failed
	AttemptCount  int        `json:"attempt_count"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"` // while pending
	LastError     string     `json:"last_error,omitempty"`
	Attempts      []Attempt  `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Deliveries returns the latest limit deliveries of webhook id of
// workspaceID, newest first; ErrNotFound when there is no such webhook.
func Deliveries(ctx context.Context, store *db.Store, workspaceID, id string, limit int) ([]Delivery, error) {
	if _, err := getEntity(ctx, store, workspaceID, id); err != nil {
		return nil, err
	}
	es, err := store.FindEntities(ctx, tableDeliveries, db.Query{
		Where: "[webhook_id] = ?", Params: []any{id}, OrderBy: "[created_at] DESC", Limit: limit,
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	out := make([]Delivery, 0, len(es))
	for _, e := range es {
		dl := Delivery{
			ID: str(e, "id"), WebhookID: id, Event: str(e, "event"), State: str(e, "state"),
			AttemptCount: intOf(e, "attempt_count"), LastError: str(e, "last_error"), Attempts: []Attempt{},
		}
		dl.CreatedAt, _ = timeOf(e, "created_at")
		if t, ok := timeOf(e, "next_attempt_at"); ok && dl.State == statePending {
			dl.NextAttemptAt = &t
		}
		for _, a := range attemptsOf(e) {
			dl.Attempts = append(dl.Attempts, attemptFrom(a.(map[string]any)))
		}
		out = append(out, dl)
	}
	return out, nil
}

// attemptFrom reads an attempt back from its stored JSON.
func attemptFrom(m map[string]any) Attempt {
	num := func(k string) int64 {
		f, _ := m[k].(float64)
		return int64(f)
	}
	s := func(k string) string { v, _ := m[k].(string); return v }
	a := Attempt{Attempt: int(num("attempt")), Status: int(num("status")), DurationMS: num("duration_ms"), Error: s("error"), Response: s("response")}
	a.At, _ = time.Parse(time.RFC3339Nano, s("at"))
	if t, err := time.Parse(time.RFC3339Nano, s("next_attempt_at")); err == nil {
		a.NextAttemptAt = &t
	}
	return a
}
