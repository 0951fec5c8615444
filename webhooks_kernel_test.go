package appkernel_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"appkernel"
	"appkernel/kerneltest"
	"appkernel/webhooks"
)

// The kernel starts a dispatcher and mounts the webhook routes: an owner
// registers an endpoint over HTTP, the app triggers an event, the endpoint
// gets it signed with the secret the owner was shown.
func TestKernelDeliversWebhooks(t *testing.T) {
	got := make(chan http.Header, 1)
	body := make(chan []byte, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Clone()
		body <- b
	}))
	defer rc.Close()
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) { c.WebhooksAllowPrivate = true }})
	owner := tk.User(t, "owner@example.com")
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	owner.Post(t, "/workspaces/"+owner.WorkspaceID+"/webhooks", map[string]string{"url": rc.URL}).Expect(t, http.StatusCreated).JSON(t, &created)
	if err := webhooks.Trigger(context.Background(), tk.DB(), owner.WorkspaceID, "widget.created", map[string]string{"id": "w1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-got:
		b := <-body
		secs, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
		want, err := webhooks.Sign(created.Secret, h.Get("webhook-id"), secs, b)
		if err != nil || h.Get("webhook-signature") != want || !strings.Contains(string(b), `"widget.created"`) {
			t.Fatalf("headers %v body %s: want signature %s (%v)", h, b, want, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	if !strings.Contains(tk.Logs.String(), "webhooks: on") {
		t.Fatalf("no feature line for webhooks in %s", tk.Logs.String())
	}
}

func TestWebhooksAllowPrivateFromEnv(t *testing.T) {
	t.Setenv("WEBHOOKS_ALLOW_PRIVATE", "true")
	c, err := appkernel.ConfigFromEnv()
	if err != nil || !c.WebhooksAllowPrivate {
		t.Fatalf("WEBHOOKS_ALLOW_PRIVATE=true: %v %v", c.WebhooksAllowPrivate, err)
	}
	if appkernel.DefaultConfig().WebhooksAllowPrivate {
		t.Fatal("private endpoints allowed by default")
	}
}
