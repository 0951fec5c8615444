package appkernel

import (
	"context"
	"fmt"
)

// bootstrapAdmin makes the operator's first admin from AdminEmail and
// AdminPassword (ADMIN_EMAIL, ADMIN_PASSWORD) once auth is built; auth
// logs the one line saying what it did. Without them it does nothing;
// with them and auth off, the start is refused rather than the setting
// ignored.
func (k *Kernel) bootstrapAdmin(ctx context.Context) error {
	if k.cfg.AdminEmail == "" {
		return nil
	}
	if k.auth == nil {
		return fmt.Errorf("%w: ADMIN_EMAIL is set but auth is off (it needs a database and auth enabled); unset ADMIN_EMAIL and ADMIN_PASSWORD or turn auth on", ErrConfig)
	}
	if _, _, err := k.auth.EnsureAdmin(ctx, k.cfg.AdminEmail, k.cfg.AdminPassword); err != nil {
		return fmt.Errorf("appkernel: first admin (ADMIN_EMAIL, ADMIN_PASSWORD): %w", err)
	}
	return nil
}
