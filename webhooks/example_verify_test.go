package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"appkernel/db"
	"appkernel/webhooks"
)

// verifyWebhook checks a Standard Webhooks request with the endpoint's
// whsec_ secret and returns its body. Any Standard Webhooks library does
// the same.
func verifyWebhook(secret string, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return nil, errors.New("stale or missing webhook-timestamp")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// Two signatures while a rotated secret overlaps: any one may match.
	for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return body, nil // id is stable across retries: deduplicate on it
			}
		}
	}
	return nil, errors.New("no valid signature")
}

// A receiver checks each request with the secret it was shown at Create.
func Example_verifyWebhook() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "webhooks-example")
	defer os.RemoveAll(dir)
	store, _ := db.Open(ctx, "sqlite:///"+filepath.Join(dir, "app.db"))
	defer store.Close()

	var secret string
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := verifyWebhook(secret, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p webhooks.Payload
		_ = json.Unmarshal(body, &p)
		got <- p.Event
	}))
	defer receiver.Close()

	d, _ := webhooks.NewDispatcher(webhooks.DispatcherOptions{Store: store, AllowPrivate: true}) // a local receiver
	_ = d.Start(ctx)
	defer d.Stop(ctx)

	_, secret, _ = webhooks.Create(ctx, store, "workspace-1", receiver.URL, webhooks.Options{Description: "billing"})
	_ = webhooks.Trigger(ctx, store, "workspace-1", "invoice.paid", map[string]string{"invoice": "in_1"})
	fmt.Println("verified", <-got)
	// Output: verified invoice.paid
}
