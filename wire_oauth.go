package appkernel

import (
	"context"
	"fmt"
	"strings"

	"appkernel/auth"
)

// wireOAuth builds OAuth login when providers are configured
// (Config.OAuthProviders: GOOGLE_*, GITHUB_*, OIDC_*); routes mounts it at
// /auth/oauth. With providers but auth off the start is refused rather
// than the setting ignored.
func (k *Kernel) wireOAuth(ctx context.Context) error {
	cfg := k.cfg
	if len(cfg.OAuthProviders) == 0 {
		k.feature("oauth", "off (no GOOGLE_CLIENT_ID, GITHUB_CLIENT_ID or OIDC_ISSUER_URL)")
		return nil
	}
	if k.auth == nil {
		return fmt.Errorf("%w: OAuth providers are configured but auth is off (it needs a database and auth enabled); unset them or turn auth on", ErrConfig)
	}
	o, err := auth.NewOAuth(ctx, k.auth, auth.OAuthConfig{
		Providers:              cfg.OAuthProviders,
		PublicURL:              cfg.PublicURL,
		RedirectOrigins:        cfg.OAuthRedirectOrigins,
		AllowLoopbackRedirects: strings.EqualFold(cfg.Env, EnvDevelopment),
	})
	if err != nil {
		return fmt.Errorf("appkernel: oauth: %w", err)
	}
	k.oauth = o
	callback := "the request's host (set PUBLIC_URL)"
	if cfg.PublicURL != "" {
		callback = strings.TrimRight(cfg.PublicURL, "/")
	}
	k.feature("oauth", "on ("+strings.Join(o.Providers(), ", ")+"; callbacks under "+callback+"/auth/oauth/{provider}/callback)")
	return nil
}

// OAuth returns OAuth login, or nil when no provider is configured.
func (k *Kernel) OAuth() *auth.OAuth { return k.oauth }
