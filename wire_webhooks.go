package appkernel

import (
	"context"
	"fmt"

	"appkernel/webhooks"
)

// wireWebhooks starts the webhook dispatcher on this instance (every
// instance runs one; they share the deliveries through leases in the
// database) and mounts the webhook routes under /workspaces/{id}/webhooks.
// Without a database there is nothing to send.
func (k *Kernel) wireWebhooks(ctx context.Context) error {
	if k.store == nil {
		k.feature("webhooks", "off (no database: Config.DisableDatabase)")
		return nil
	}
	opts := webhooks.DispatcherOptions{
		Store:        k.store,
		Logger:       k.log,
		AllowPrivate: k.cfg.WebhooksAllowPrivate,
	}
	if m := k.activeMetrics(); m != nil {
		opts.OnOutcome = m.WebhookDelivery
	}
	d, err := webhooks.NewDispatcher(opts)
	if err == nil {
		err = d.Start(ctx)
	}
	if err != nil {
		return fmt.Errorf("appkernel: webhooks: %w", err)
	}
	k.closers = append(k.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), k.cfg.ShutdownTimeout)
		defer cancel()
		return d.Stop(ctx)
	})
	routes := "routes under /workspaces/{id}/webhooks"
	if k.ws == nil {
		routes = "no routes (auth is off); Trigger still delivers"
	} else {
		webhooks.Mount(k.ws, k.store)
	}
	guard := "private addresses refused"
	if k.cfg.WebhooksAllowPrivate {
		guard = "private addresses ALLOWED (WEBHOOKS_ALLOW_PRIVATE)"
	}
	k.feature("webhooks", "on (dispatcher on this instance, "+guard+", "+routes+")")
	return nil
}
