package appkernel

import (
	"context"
	"fmt"

	"appkernel/apikeys"
)

// wireAPIKeys builds the API-key service on the app database, makes auth's
// Authenticate accept its keys, and registers its closer (which writes the
// last-used times it holds before the database closes). With Redis a
// revocation reaches every instance at once; without, within the key cache
// TTL (30 s).
func (k *Kernel) wireAPIKeys(ctx context.Context) error {
	if k.auth == nil {
		k.feature("api keys", "off (auth is off)")
		return nil
	}
	s, err := apikeys.New(ctx, apikeys.Config{
		Store:      k.store,
		Redis:      k.universalRedis(),
		Prefix:     k.cfg.redisNamespace() + "apikeys:",
		Workspaces: k.ws,
		Logger:     k.log,
	})
	if err != nil {
		return fmt.Errorf("appkernel: api keys: %w", err)
	}
	k.keys = s
	k.closers = append(k.closers, s.Close)
	k.auth.SetKeyVerifier(s)
	if k.redis == nil {
		k.feature("api keys", "on (revocations reach other instances within 30s: REDIS_URL not set)")
	} else {
		k.feature("api keys", "on")
	}
	return nil
}

// APIKeys returns the API-key service, or nil when auth is off.
func (k *Kernel) APIKeys() *apikeys.Service { return k.keys }
