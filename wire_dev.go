package appkernel

import (
	"context"

	"appkernel/devdocker"
)

// wireDevAutostart starts local containers for localhost URLs that do not
// answer (development only), before the database and Redis are opened.
func (k *Kernel) wireDevAutostart(ctx context.Context) error {
	cfg, log := k.cfg, k.log
	switch {
	case cfg.Production():
		k.feature("dev auto-start", "off (APP_ENV=production)")
	case cfg.DisableDevAutostart:
		k.feature("dev auto-start", "off (DEV_AUTOSTART=false)")
	default:
		k.feature("dev auto-start", "on (a localhost database or Redis that does not answer gets a Docker container)")
		if _, err := devdocker.Ensure(ctx, devdocker.Options{Enabled: true, Logger: log}, cfg.DatabaseURL, cfg.AdminDBURL, cfg.RedisURL); err != nil {
			return err
		}
	}
	return nil
}
