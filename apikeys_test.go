package appkernel_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/auth"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
	"appkernel/middleware"
)

// Two instances of one service (one database, one Redis): a key made on
// one works on the other, and its revoke on the first reaches the second
// at once, far within the 30 s key cache.
func TestAPIKeysAcrossKernels(t *testing.T) {
	t.Parallel()
	redisURL := testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "apikeys-" + hex.EncodeToString(b[:])
	probe := func(k *appkernel.Kernel) {
		r := chi.NewRouter()
		r.Use(auth.RequireScope("reports:read"))
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.PrincipalFrom(r.Context())
			middleware.WriteJSON(w, http.StatusOK, map[string]string{"type": p.Type, "key_id": p.KeyID})
		})
		k.Mount("/reports", r)
	}
	first := kerneltest.New(t, &kerneltest.Options{
		Config: func(c *appkernel.Config) { c.RedisURL, c.RedisPrefix = redisURL, prefix },
		Mount:  probe,
	})
	if !strings.Contains(first.Logs.String(), "api keys: on") {
		t.Fatalf("no feature line in %s", first.Logs.String())
	}
	second := kerneltest.New(t, &kerneltest.Options{
		Config: func(c *appkernel.Config) {
			c.RedisURL, c.RedisPrefix = redisURL, prefix
			c.DatabaseURL = first.Config().DatabaseURL
		},
		Mount: probe,
	})

	alice := first.User(t, "alice@example.com")
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	alice.Post(t, "/auth/api-keys", map[string]any{"name": "reports", "scopes": []string{"reports:read"}}).Expect(t, 201).JSON(t, &created)
	bot := second.Client()
	bot.Token = created.Key
	var got map[string]string
	bot.Get(t, "/reports").Expect(t, 200).JSON(t, &got)
	if got["type"] != auth.PrincipalAPIKey || got["key_id"] != created.ID {
		t.Fatalf("principal %v", got)
	}
	// The rate limiter counts the key's two requests in a bucket of its
	// own, not in its owner's (who spent one creating it).
	if res := bot.Get(t, "/reports"); res.Header.Get("RateLimit-Remaining") != "98" {
		t.Fatalf("RateLimit-Remaining %q after the key's second request, want 98", res.Header.Get("RateLimit-Remaining"))
	}

	alice.Delete(t, "/auth/api-keys/"+created.ID).Expect(t, 204)
	deadline := time.Now().Add(5 * time.Second)
	for bot.Get(t, "/reports").Status != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the other instance still accepts the revoked key")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// X-API-Key is the same key.
	bot.Token = ""
	bot.Header = http.Header{"X-Api-Key": {created.Key}}
	if code := bot.Get(t, "/reports").Expect(t, 401).ErrorCode(t); code != "invalid_token" {
		t.Fatalf("code %s", code)
	}
}
