package appkernel

import (
	"context"
	"fmt"

	"github.com/go-chi/chi/v5"

	"appkernel/flags"
)

// wireFlags builds the flags service on the app database: flags load once
// and are evaluated in memory, refreshed at once through Redis pub/sub
// (channel <namespace>flags) when Redis is there, else within
// flags.DefaultTTL. Its routes are mounted by routes, when auth is on.
func (k *Kernel) wireFlags(ctx context.Context) error {
	if k.store == nil {
		k.feature("feature flags", "off (no database: Config.DisableDatabase)")
		return nil
	}
	svc, err := flags.New(ctx, flags.Config{
		Store:  k.store,
		Redis:  k.universalRedis(),
		Prefix: k.cfg.redisNamespace(),
		Logger: k.log,
	})
	if err != nil {
		return fmt.Errorf("appkernel: flags: %w", err)
	}
	k.flags = svc
	k.closers = append(k.closers, svc.Close)
	refresh := fmt.Sprintf("refreshed every %s (REDIS_URL not set)", flags.DefaultTTL)
	if k.redis != nil {
		refresh = fmt.Sprintf("refreshed through Redis pub/sub, every %s while Redis is down", flags.DefaultTTL)
	}
	routes := "GET /flags, /admin/flags"
	if k.auth == nil {
		routes = "no routes (auth is off)"
	}
	k.feature("feature flags", "on ("+refresh+"; "+routes+")")
	return nil
}

// mountFlags mounts the flag routes: /admin/flags for admins, /flags for
// every signed-in caller. They need auth to know who calls.
func (k *Kernel) mountFlags(r chi.Router) {
	if k.flags == nil || k.auth == nil {
		return
	}
	r.Mount("/admin/flags", k.flags.AdminRoutes())
	r.Mount("/flags", k.flags.Routes())
}

// Flags returns the feature flags service, or nil with
// Config.DisableDatabase. Its Enabled answers from memory:
//
//	if k.Flags().Enabled("checkout.v2", flags.ForContext(r.Context())) { … }
func (k *Kernel) Flags() *flags.Service { return k.flags }
