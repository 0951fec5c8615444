package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-chi/chi/v5"
	"golang.org/x/oauth2"

	"appkernel/middleware"
)

// OAuthStateCookie holds the state of a started sign-in in the browser
// that started it (HttpOnly, SameSite=Lax so that the provider's redirect
// back carries it, Secure when the service is reached over TLS, for the
// provider's start and callback path, OAuthStateTTL).
const OAuthStateCookie = "ak_oauth_state"

// Routes returns the /auth/oauth router:
//
//	GET    /accounts             → 200 [OAuthAccount] (needs a user)
//	GET    /{provider}           ?redirect_uri=/path&invite_token=… → 302 to the provider
//	GET    /{provider}/callback  → 302 to redirect_uri#access_token=…&refresh_token=…
//	DELETE /{provider}           → 204 (needs a user; 409 last_sign_in_method)
//
// A start request carrying a user's access token links the provider
// account to that user; one asking for Accept: application/json gets
// 200 {"authorization_url"} instead of the 302 (a single-page app links
// this way, since a navigation cannot carry the token). The kernel mounts
// it at /auth/oauth behind Authenticate; it also works alone.
func (o *OAuth) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(o.s.ensureAuthenticated)
	r.With(RequireUser).Get("/accounts", o.handleAccounts)
	r.Get("/{provider}", o.handleStart)
	r.Get("/{provider}/callback", o.handleCallback)
	r.With(RequireUser).Delete("/{provider}", o.handleUnlink)
	return r
}

func (o *OAuth) provider(r *http.Request) (*oauthProvider, bool) {
	p, ok := o.providers[chi.URLParam(r, "provider")]
	return p, ok
}

// publicURL is the external URL of the request's path: PublicURL, else
// the request's own scheme and Host.
func (o *OAuth) publicURL(r *http.Request) string {
	base := o.cfg.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + r.URL.EscapedPath()
}

func (o *OAuth) handleStart(w http.ResponseWriter, r *http.Request) {
	p, ok := o.provider(r)
	if !ok {
		writeError(w, r, ErrUnknownProvider)
		return
	}
	ctx := r.Context()
	var linkUser string
	if err, failed := FailureFrom(ctx); failed {
		writeError(w, r, err) // a token was presented and refused: say so rather than sign in anew
		return
	}
	if pr, ok := PrincipalFrom(ctx); ok {
		if pr.Type != PrincipalUser {
			writeError(w, r, withMsg(ErrForbidden, "linking a provider needs a user's access token"))
			return
		}
		linkUser = pr.UserID
	}
	q := r.URL.Query()
	invite := q.Get("invite_token")
	if len(invite) > 512 || !isText(invite) {
		invite = ""
	}
	start := o.publicURL(r)
	callback := start + "/callback"
	cfg, err := o.config(ctx, p, callback)
	if err != nil {
		writeError(w, r, err)
		return
	}
	verifier := oauth2.GenerateVerifier()
	nonce, err := randomToken(16)
	if err != nil {
		writeError(w, r, err)
		return
	}
	expires := o.s.now().Add(OAuthStateTTL)
	state, err := o.saveState(ctx, oauthState{
		provider: p.name, verifier: verifier, nonce: nonce, redirect: o.redirectTarget(q.Get("redirect_uri")),
		callback: callback, linkUserID: linkUser, invite: invite, expires: expires,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if p.cfg.IssuerURL != "" {
		opts = append(opts, oidc.Nonce(nonce))
	}
	authURL := cfg.AuthCodeURL(state, opts...)
	cookiePath := "/"
	if u, err := url.Parse(start); err == nil && u.Path != "" {
		cookiePath = u.Path
	}
	http.SetCookie(w, &http.Cookie{
		Name:     OAuthStateCookie,
		Value:    state,
		Path:     cookiePath,
		MaxAge:   int(OAuthStateTTL / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(start, "https://"),
		SameSite: http.SameSiteLaxMode,
	})
	noStore(w)
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"authorization_url": authURL})
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (o *OAuth) handleCallback(w http.ResponseWriter, r *http.Request) {
	p, ok := o.provider(r)
	if !ok {
		writeError(w, r, ErrUnknownProvider)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	var cookie string
	if c, err := r.Cookie(OAuthStateCookie); err == nil {
		cookie = c.Value
	}
	// The cookie has done its work whatever happens next.
	callback := o.publicURL(r)
	http.SetCookie(w, &http.Cookie{Name: OAuthStateCookie, Path: cookieDir(callback), MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil || strings.HasPrefix(callback, "https://"), SameSite: http.SameSiteLaxMode})
	noStore(w)
	w.Header().Set("Referrer-Policy", "no-referrer")
	st, err := o.takeState(ctx, p.name, q.Get("state"), cookie)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if e := q.Get("error"); e != "" {
		// The user declined, or the provider refused: back to the app,
		// which reads the reason from the fragment.
		v := url.Values{"error": {truncate(e, 64)}}
		http.Redirect(w, r, withFragment(st.redirect, v), http.StatusFound)
		return
	}
	code := q.Get("code")
	if code == "" {
		writeError(w, r, withMsg(ErrOAuthProvider, "the provider sent no authorization code"))
		return
	}
	cfg, err := o.config(ctx, p, st.callback)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tok, err := cfg.Exchange(o.clientContext(ctx), code, oauth2.VerifierOption(st.verifier))
	if err != nil {
		o.s.log.WarnContext(ctx, "oauth code exchange failed", "provider", p.name, "err", err)
		writeError(w, r, ErrOAuthProvider)
		return
	}
	prof, err := o.profile(ctx, p, cfg, tok, st.nonce)
	if err != nil {
		if errors.Is(err, ErrOAuthProvider) || errors.Is(err, ErrOAuthIDToken) {
			o.s.log.WarnContext(ctx, "oauth profile refused", "provider", p.name, "err", err)
		}
		writeError(w, r, err)
		return
	}
	u, err := o.signInOAuth(ctx, p.name, prof, st)
	if err != nil {
		writeError(w, r, err)
		return
	}
	t, err := o.s.startSession(ctx, u)
	if err != nil {
		writeError(w, r, err)
		return
	}
	o.s.log.InfoContext(ctx, "oauth sign-in", "user_id", u.ID, "provider", p.name)
	// Tokens travel in the fragment: browsers never send it to a server,
	// so it stays out of access logs, proxies and Referer headers.
	v := url.Values{
		"access_token":  {t.AccessToken},
		"refresh_token": {t.RefreshToken},
		"token_type":    {t.TokenType},
		"expires_in":    {strconv.FormatInt(t.ExpiresIn, 10)},
	}
	http.Redirect(w, r, withFragment(st.redirect, v), http.StatusFound)
}

// cookieDir is the path of the start URL of a callback URL (…/{provider}).
func cookieDir(callback string) string {
	u, err := url.Parse(callback)
	if err != nil {
		return "/"
	}
	if i := strings.LastIndexByte(u.Path, '/'); i > 0 {
		return u.Path[:i]
	}
	return "/"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (o *OAuth) handleAccounts(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	accts, err := o.Accounts(r.Context(), u.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	middleware.WriteJSON(w, http.StatusOK, accts)
}

func (o *OAuth) handleUnlink(w http.ResponseWriter, r *http.Request) {
	if pr, _ := PrincipalFrom(r.Context()); pr.Type != PrincipalUser {
		writeError(w, r, withMsg(ErrForbidden, "unlinking a provider needs a user's access token"))
		return
	}
	u, _ := UserFrom(r.Context())
	if err := o.Unlink(r.Context(), u.ID, chi.URLParam(r, "provider")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
