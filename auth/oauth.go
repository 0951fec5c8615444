package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"appkernel/db"
)

// Tables of OAuth login. History is off for both: a state row holds a
// PKCE verifier, and link rows churn with sign-ins of new accounts.
const (
	TableOAuthAccounts = "oauth_accounts"
	TableOAuthStates   = "oauth_states"
)

// OAuthStateTTL is how long a started OAuth sign-in may take: its state
// row and cookie expire after it.
const OAuthStateTTL = 10 * time.Minute

// Default endpoints of the built-in providers.
const (
	GoogleIssuerURL = "https://accounts.google.com"
	GitHubAuthURL   = "https://github.com/login/oauth/authorize"
	GitHubTokenURL  = "https://github.com/login/oauth/access_token"
	GitHubAPIURL    = "https://api.github.com"
)

// OAuthProvider is the client registration and endpoints of one provider.
// A provider with an IssuerURL is an OpenID Connect provider: its
// endpoints come from discovery and the user is read from its ID token.
// Without one it is GitHub-like: AuthURL, TokenURL and APIURL are needed
// and the user is read from APIURL's /user and /user/emails.
type OAuthProvider struct {
	// ClientID and ClientSecret are the client's registration. Required.
	ClientID     string
	ClientSecret string
	// IssuerURL is the OpenID Connect issuer, discovered at
	// IssuerURL/.well-known/openid-configuration on first use. Defaults
	// to GoogleIssuerURL for the provider named "google".
	IssuerURL string
	// AuthURL and TokenURL override the authorization and token
	// endpoints. Default to discovery (OIDC), GitHubAuthURL and
	// GitHubTokenURL for "github".
	AuthURL  string
	TokenURL string
	// APIURL is the base of a GitHub-like API (GET /user, /user/emails).
	// Defaults to GitHubAPIURL for "github".
	APIURL string
	// Scopes requested. Default to openid, email, profile (OIDC) and
	// read:user, user:email (GitHub-like).
	Scopes []string
}

func (p OAuthProvider) withDefaults(name string) OAuthProvider {
	switch name {
	case "google":
		if p.IssuerURL == "" {
			p.IssuerURL = GoogleIssuerURL
		}
	case "github":
		if p.IssuerURL == "" {
			if p.AuthURL == "" {
				p.AuthURL = GitHubAuthURL
			}
			if p.TokenURL == "" {
				p.TokenURL = GitHubTokenURL
			}
			if p.APIURL == "" {
				p.APIURL = GitHubAPIURL
			}
		}
	}
	if p.Scopes == nil {
		if p.IssuerURL != "" {
			p.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
		} else {
			p.Scopes = []string{"read:user", "user:email"}
		}
	}
	return p
}

// OAuthConfig configures OAuth login (NewOAuth).
type OAuthConfig struct {
	// Providers by name: the name is the path segment of
	// /auth/oauth/{provider} and the provider column of oauth_accounts.
	// "google" and "github" get their endpoints by default. Required.
	Providers map[string]OAuthProvider
	// PublicURL is the service's external base URL
	// (https://api.example.com, with a path if a proxy adds one): the
	// callback registered with a provider is PublicURL + the callback's
	// path, e.g. https://api.example.com/auth/oauth/google/callback.
	// Defaults to "": the request's own scheme and Host, which a client
	// chooses — for development only (the kernel requires it in production).
	PublicURL string
	// RedirectOrigins are the origins (scheme://host[:port], exact) a
	// sign-in may return to besides relative paths of this service.
	// Defaults to none.
	RedirectOrigins []string
	// AllowLoopbackRedirects also accepts any port of localhost, 127.0.0.1
	// and [::1] as redirect origins (development). Defaults to false.
	AllowLoopbackRedirects bool
	// HTTPClient talks to the providers. Defaults to a client with a
	// 10-second timeout.
	HTTPClient *http.Client
}

// providerName is what a provider may be called.
var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func (c OAuthConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if len(c.Providers) == 0 {
		bad("OAuth: no provider; set GOOGLE_CLIENT_ID, GITHUB_CLIENT_ID or OIDC_ISSUER_URL with their secrets")
	}
	for name, p := range c.Providers {
		switch {
		case !providerName.MatchString(name) || name == "accounts":
			bad("OAuth provider name %q; want 1-32 lower-case letters, digits, - or _, and not \"accounts\"", name)
		case p.ClientID == "" || p.ClientSecret == "":
			bad("OAuth provider %q needs a ClientID and a ClientSecret", name)
		case p.IssuerURL == "" && (p.AuthURL == "" || p.TokenURL == "" || p.APIURL == ""):
			bad("OAuth provider %q needs an IssuerURL (OpenID Connect) or AuthURL, TokenURL and APIURL (GitHub-like)", name)
		}
		for _, u := range []string{p.IssuerURL, p.AuthURL, p.TokenURL, p.APIURL} {
			if pu, err := url.Parse(u); u != "" && (err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "") {
				bad("OAuth provider %q: %q is not an http(s) URL", name, u)
			}
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("OAuth PublicURL %q; want the service's external base URL, such as https://api.example.com", c.PublicURL)
		}
	}
	for _, o := range c.RedirectOrigins {
		if _, ok := originOf(o); !ok {
			bad("OAuth redirect origin %q; want scheme://host[:port] with no path", o)
		}
	}
	return errors.Join(errs...)
}

// OAuth is sign-in through OAuth providers, built on a Service with
// NewOAuth. It is safe for concurrent use.
type OAuth struct {
	s         *Service
	cfg       OAuthConfig
	providers map[string]*oauthProvider
	origins   map[string]bool
}

// oauthProvider is a configured provider; the OIDC discovery document is
// fetched on first use and kept once it succeeds.
type oauthProvider struct {
	name string
	cfg  OAuthProvider

	mu       sync.Mutex
	oidc     *oidc.Provider
	endpoint oauth2.Endpoint
}

// NewOAuth checks cfg and declares the OAuth tables on s's store. No
// provider is contacted: discovery happens at the first sign-in.
func NewOAuth(ctx context.Context, s *Service, cfg OAuthConfig) (*OAuth, error) {
	ps := make(map[string]OAuthProvider, len(cfg.Providers))
	for name, p := range cfg.Providers {
		ps[name] = p.withDefaults(name)
	}
	cfg.Providers = ps
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	o := &OAuth{s: s, cfg: cfg, providers: map[string]*oauthProvider{}, origins: map[string]bool{}}
	for name, p := range ps {
		o.providers[name] = &oauthProvider{name: name, cfg: p}
	}
	for _, raw := range cfg.RedirectOrigins {
		origin, _ := originOf(raw)
		o.origins[origin] = true
	}
	if err := o.init(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *OAuth) init(ctx context.Context) error {
	st := o.s.store
	st.DisableHistory(TableOAuthStates, TableOAuthAccounts)
	columns := map[string]db.Entity{
		TableUsers:         {"email_verified": false},
		TableOAuthAccounts: {"provider": "", "subject": "", "user_id": "", "email": ""},
		TableOAuthStates: {"state_hash": "", "provider": "", "verifier": "", "nonce": "", "redirect": "",
			"callback": "", "link_user_id": "", "invite": "", "expires_at": ""},
	}
	for _, table := range []string{TableUsers, TableOAuthAccounts, TableOAuthStates} {
		if err := st.EnsureColumns(ctx, table, columns[table]); err != nil {
			return fmt.Errorf("auth: oauth: columns of %s: %w", table, err)
		}
	}
	indexes := []struct {
		table  string
		cols   []string
		unique bool
	}{
		{TableOAuthAccounts, []string{"provider", "subject"}, true}, // one user per provider account
		{TableOAuthAccounts, []string{"user_id", "provider"}, true}, // one account per provider and user
		{TableOAuthStates, []string{"state_hash"}, true},
		{TableOAuthStates, []string{"expires_at"}, false},
	}
	for _, ix := range indexes {
		if err := st.EnsureIndex(ctx, ix.table, ix.cols, ix.unique); err != nil {
			return fmt.Errorf("auth: oauth: index %s%v: %w", ix.table, ix.cols, err)
		}
	}
	return nil
}

// Providers returns the names of the configured providers, sorted.
func (o *OAuth) Providers() []string {
	names := make([]string, 0, len(o.providers))
	for n := range o.providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// clientContext carries the providers' HTTP client for x/oauth2 and go-oidc.
func (o *OAuth) clientContext(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.cfg.HTTPClient)
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// config returns the x/oauth2 configuration of p for callback, running
// OIDC discovery the first time.
func (o *OAuth) config(ctx context.Context, p *oauthProvider, callback string) (*oauth2.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.IssuerURL != "" && p.oidc == nil {
		// Discovery outlives the request that runs it: keep it off the
		// request's cancellation, bounded by the client's timeout.
		dctx := o.clientContext(context.WithoutCancel(ctx))
		prov, err := oidc.NewProvider(dctx, p.cfg.IssuerURL)
		if err != nil {
			return nil, fmt.Errorf("%w: discovery of %s: %v", ErrOAuthProvider, p.name, err)
		}
		p.oidc, p.endpoint = prov, prov.Endpoint()
	}
	ep := p.endpoint
	if p.cfg.AuthURL != "" {
		ep.AuthURL = p.cfg.AuthURL
	}
	if p.cfg.TokenURL != "" {
		ep.TokenURL = p.cfg.TokenURL
	}
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  callback,
		Scopes:       p.cfg.Scopes,
	}, nil
}

// Errors of OAuth sign-in; over HTTP each has the status and code in
// parentheses.
var (
	// ErrOAuthState means the callback's state is missing, does not match
	// this browser's cookie, is expired, spent, or another provider's
	// (400 invalid_state).
	ErrOAuthState error = &authError{http.StatusBadRequest, "invalid_state", "sign-in state is missing, invalid or expired; start the sign-in again"}
	// ErrOAuthProvider means the provider failed: discovery, the code
	// exchange or the profile request (502 oauth_provider_error).
	ErrOAuthProvider error = &authError{http.StatusBadGateway, "oauth_provider_error", "the sign-in provider did not complete the sign-in"}
	// ErrOAuthIDToken means the provider's ID token failed verification:
	// signature, issuer, audience, expiry or nonce (401 invalid_id_token).
	ErrOAuthIDToken error = &authError{http.StatusUnauthorized, "invalid_id_token", "the provider's ID token is invalid"}
	// ErrEmailNotVerified means the provider has no verified email for
	// the account (403 email_not_verified).
	ErrEmailNotVerified error = &authError{http.StatusForbidden, "email_not_verified", "the provider account has no verified email"}
	// ErrOAuthLinked means the provider account is linked to another
	// user, or the user has another account of that provider linked
	// (409 oauth_account_linked).
	ErrOAuthLinked error = &authError{http.StatusConflict, "oauth_account_linked", "this provider account, or another of the same provider, is already linked"}
	// ErrLastSignInMethod means unlinking would leave the user no way to
	// sign in: no password and no other provider (409 last_sign_in_method).
	ErrLastSignInMethod error = &authError{http.StatusConflict, "last_sign_in_method", "this is the account's last way to sign in; set a password or link another provider first"}
	// ErrUnknownProvider means no provider of that name is configured, or
	// the user has none of that name linked (404 not_found).
	ErrUnknownProvider error = &authError{http.StatusNotFound, "not_found", "unknown OAuth provider"}
)
