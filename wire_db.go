package appkernel

import (
	"context"
	"errors"
	"fmt"

	"appkernel/db"
)

// openStore opens the app database of cfg (DATABASE_URL), waiting at most
// cfg.ConnectTimeout for it to answer. Its error names the variable; the
// store's says what happened and what to do.
func openStore(ctx context.Context, cfg Config, onOp func(context.Context, db.Op)) (*db.Store, error) {
	return openStoreAt(ctx, cfg, "database", "DATABASE_URL", cfg.DatabaseURL, onOp)
}

// openStoreAt is openStore for the database at url, which the errors call
// what (its role) and name (its variable); onOp observes its operations.
func openStoreAt(ctx context.Context, cfg Config, what, name, url string, onOp func(context.Context, db.Op)) (*db.Store, error) {
	octx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	store, err := db.OpenConfig(octx, db.Config{URL: url, MaxColumns: cfg.MaxColumns, OnOp: onOp})
	switch {
	case err == nil:
		return store, nil
	case errors.Is(err, db.ErrTimeout) && ctx.Err() == nil:
		return nil, fmt.Errorf("appkernel: %s (%s) does not answer within %s (Config.ConnectTimeout): %w", what, name, cfg.ConnectTimeout, err)
	case errors.Is(err, db.ErrMalformedURL):
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return nil, fmt.Errorf("appkernel: %s (%s): %w", what, name, err)
}

// wireDB opens the app database, when there is one.
func (k *Kernel) wireDB(ctx context.Context) error {
	cfg := k.cfg
	if cfg.DisableDatabase {
		k.feature("database", "off (Config.DisableDatabase)")
		return nil
	}
	store, err := openStore(ctx, cfg, k.storeOpHook())
	if err != nil {
		return err
	}
	k.store = store
	k.observeStore(store)
	k.closers = append(k.closers, store.Close)
	k.feature("database", fmt.Sprintf("on (%s, %s)", store.Dialect(), MaskURL(cfg.DatabaseURL)))
	return nil
}
