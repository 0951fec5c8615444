package appkernel_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"appkernel"
	"appkernel/auth"
	"appkernel/kerneltest"
)

// The kernel mounts OAuth login at /auth/oauth when a provider is
// configured, beside /auth, with callbacks under PublicURL. (The whole
// flow against a fake provider is tested in package auth.)
func TestOAuthMountedWhenConfigured(t *testing.T) {
	t.Parallel()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		base := "http://" + r.Host
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"jwks_uri": base + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(idp.Close)
	k := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.OAuthProviders = map[string]appkernel.OAuthProvider{
			"oidc":   {ClientID: "cid", ClientSecret: "cs", IssuerURL: idp.URL},
			"github": {ClientID: "gid", ClientSecret: "gs"},
		}
		c.PublicURL = "https://api.example.com"
	}})
	if !strings.Contains(k.Logs.String(), "oauth: on (github, oidc; callbacks under https://api.example.com/auth/oauth/{provider}/callback)") {
		t.Fatalf("no oauth feature line in:\n%s", k.Logs.String())
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for provider, authorize := range map[string]string{"oidc": idp.URL + "/authorize", "github": "https://github.com/login/oauth/authorize"} {
		res, err := noFollow.Get(k.Server.URL + "/auth/oauth/" + provider + "?redirect_uri=/dashboard")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), authorize+"?") ||
			loc.Query().Get("redirect_uri") != "https://api.example.com/auth/oauth/"+provider+"/callback" {
			t.Fatalf("%s start: %d Location %s", provider, res.StatusCode, loc)
		}
		if cs := res.Cookies(); len(cs) != 1 || cs[0].Name != auth.OAuthStateCookie || !cs[0].Secure || !cs[0].HttpOnly || res.Header.Get("X-Content-Type-Options") == "" {
			t.Fatalf("%s start: cookies %+v, headers %v", provider, cs, res.Header)
		}
	}
	u := k.User(t, "ann@example.com")
	u.Get(t, "/auth/oauth/accounts").Expect(t, http.StatusOK)
	u.Get(t, "/auth/me").Expect(t, http.StatusOK)
	if got := u.Delete(t, "/auth/oauth/github").Expect(t, http.StatusNotFound); got.ErrorCode(t) != "not_found" {
		t.Fatalf("unlink of nothing: %s", got.Body)
	}

	// The callback refuses a request without this browser's state.
	k.Client().Get(t, "/auth/oauth/oidc/callback?code=x&state=y").Expect(t, http.StatusBadRequest)
}

func TestOAuthOffWithoutProviders(t *testing.T) {
	t.Parallel()
	k := kerneltest.New(t, nil)
	if !strings.Contains(k.Logs.String(), "oauth: off (no GOOGLE_CLIENT_ID, GITHUB_CLIENT_ID or OIDC_ISSUER_URL)") {
		t.Fatalf("no oauth feature line in:\n%s", k.Logs.String())
	}
	k.Client().Get(t, "/auth/oauth/google").Expect(t, http.StatusNotFound)
	if k.OAuth() != nil {
		t.Fatal("OAuth() is not nil without providers")
	}

	cfg := appkernel.DefaultConfig()
	cfg.DisableAuth = true
	cfg.DatabaseURL = "sqlite://:memory:"
	cfg.DisableDevAutostart = true
	cfg.OAuthProviders = map[string]appkernel.OAuthProvider{"google": {ClientID: "i", ClientSecret: "s"}}
	if _, err := appkernel.New(context.Background(), cfg); !errors.Is(err, appkernel.ErrConfig) {
		t.Fatalf("providers with auth off: %v, want ErrConfig", err)
	}
}
