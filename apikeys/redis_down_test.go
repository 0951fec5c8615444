package apikeys_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
)

// Redis gone at run time: keys keep working, a revoke still applies at
// once on its own instance (the publish fails and is logged), and once
// Redis is back revocations reach the other instance through it again.
func TestRedisDownDegrades(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = 0
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	a := newHarness(t, "sqlite", withTTL(time.Minute), withRedis(rdb, "down:"))
	b := newHarnessOn(t, a.store, a.clock, withTTL(time.Minute), withRedis(rdb, "down:"))
	alice := a.register("alice@example.com")
	k1 := a.createKey(alice.AccessToken, map[string]any{"name": "one"})
	k2 := a.createKey(alice.AccessToken, map[string]any{"name": "two"})
	b.do("GET", "/whoami", nil, bearer(k2.Secret)...).expect(t, http.StatusOK, nil)

	srv.Kill()
	b.do("GET", "/whoami", nil, bearer(k1.Secret)...).expect(t, http.StatusOK, nil)
	a.do("DELETE", "/auth/api-keys/"+k1.ID, nil, bearer(alice.AccessToken)...).expect(t, http.StatusNoContent, nil)
	a.do("GET", "/whoami", nil, bearer(k1.Secret)...).expectError(t, http.StatusUnauthorized, "invalid_token")

	srv.Restart()
	// The subscriber reconnects on its own; revokes published from then on
	// reach b at once.
	eventually(t, 15*time.Second, "revocation through Redis after it came back", func() bool {
		if err := rdb.Publish(t.Context(), "down:revoked", "probe").Err(); err != nil {
			return false
		}
		n, err := rdb.PubSubNumSub(t.Context(), "down:revoked").Result()
		return err == nil && n["down:revoked"] >= 2
	})
	a.do("DELETE", "/auth/api-keys/"+k2.ID, nil, bearer(alice.AccessToken)...).expect(t, http.StatusNoContent, nil)
	eventually(t, 5*time.Second, "revocation reaches the other instance", func() bool {
		return b.do("GET", "/whoami", nil, bearer(k2.Secret)...).status == http.StatusUnauthorized
	})
}
