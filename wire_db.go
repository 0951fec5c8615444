package appkernel

import (
	"context"
	"fmt"

	"appkernel/db"
)

// openStore opens cfg.DatabaseURL and waits at most cfg.ConnectTimeout for
// it to answer. It is the one place New and RunWorker open the app
// database, so both refuse a bad one with the same message.
func openStore(ctx context.Context, cfg Config) (*db.Store, error) {
	octx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	store, err := db.Open(octx, cfg.DatabaseURL)
	cancel()
	if err != nil {
		if octx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("appkernel: database (DATABASE_URL) %s does not answer within %s (Config.ConnectTimeout): %w", MaskURL(cfg.DatabaseURL), cfg.ConnectTimeout, err)
		}
		return nil, fmt.Errorf("appkernel: database (DATABASE_URL) %s: %w", MaskURL(cfg.DatabaseURL), err)
	}
	return store, nil
}

// wireDB opens the app database, when there is one.
func (k *Kernel) wireDB(ctx context.Context) error {
	cfg := k.cfg
	if cfg.DatabaseURL == "" {
		k.feature("database", "off (DATABASE_URL not set)")
		return nil
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	k.store = store
	k.closers = append(k.closers, store.Close)
	k.feature("database", fmt.Sprintf("on (%s, %s)", store.Dialect(), MaskURL(cfg.DatabaseURL)))
	return nil
}
