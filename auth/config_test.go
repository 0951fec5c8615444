package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	store := openStore(t, "sqlite")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // substring of the error naming the field; "" = valid
	}{
		{"valid", Config{Store: store, Secret: testSecret}, ""},
		{"no store", Config{Secret: testSecret}, "Store"},
		{"no secret", Config{Store: store}, "Secret is empty"},
		{"short secret", Config{Store: store, Secret: []byte("dev-secret-change-me")}, "Secret is 20 bytes"},
		{"short secret insecure", Config{Store: store, Secret: []byte("dev-secret-change-me"), Insecure: true}, ""},
		{"weak argon2", Config{Store: store, Secret: testSecret, Argon2: Argon2Params{Memory: 1024}}, "Argon2"},
		{"stronger argon2", Config{Store: store, Secret: testSecret, Argon2: Argon2Params{Memory: 64 * 1024, Time: 3}}, ""},
		{"cache ttl over 60s", Config{Store: store, Secret: testSecret, IdentityCacheTTL: 2 * time.Minute}, "IdentityCacheTTL"},
		{"negative per-IP limit", Config{Store: store, Secret: testSecret, PerIPLimit: -1}, "PerIPLimit"},
		{"negative per-IP window", Config{Store: store, Secret: testSecret, PerIPWindow: -time.Second}, "PerIPWindow"},
		{"negative access ttl", Config{Store: store, Secret: testSecret, AccessTTL: -time.Second}, "AccessTTL"},
	} {
		_, err := New(context.Background(), tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig)):
			t.Errorf("%s: error %v, want ErrConfig naming %q", tc.name, err, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.Issuer != "appkernel" || c.AccessTTL != 24*time.Hour || c.RefreshTTL != 30*24*time.Hour ||
		c.RefreshGrace != 10*time.Second || c.AllowSelfSignup || c.IdentityCacheTTL != 30*time.Second ||
		c.Argon2 != DefaultArgon2Params() || c.MaxConcurrentHashes < 1 ||
		c.PerIPLimit != 60 || c.PerIPWindow != time.Minute {
		t.Fatalf("defaults %+v", c)
	}
}
