package auth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/middleware"
)

// oauthHarness serves /auth and /auth/oauth the way the kernel mounts
// them, with "google" (OpenID Connect) and "github" (GitHub-like)
// pointing at one fake provider.
type oauthHarness struct {
	*harness
	oauth *OAuth
	idp   *fakeProvider
	srv   *httptest.Server
}

func newOAuthHarness(t *testing.T, dialect string, configure func(*OAuthConfig), opts ...harnessOption) *oauthHarness {
	t.Helper()
	h := newHarness(t, dialect, opts...)
	idp := newFakeProvider(t)
	cfg := OAuthConfig{
		Providers:       map[string]OAuthProvider{"google": idp.oidcConfig(), "github": idp.githubConfig()},
		RedirectOrigins: []string{"https://app.example.com"},
	}
	if configure != nil {
		configure(&cfg)
	}
	o, err := NewOAuth(context.Background(), h.auth, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, h.auth.Authenticate)
	r.Mount("/auth", h.auth.Routes())
	r.Mount("/auth/oauth", o.Routes())
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	h.srv = srv // h.do and friends now talk to this server
	return &oauthHarness{harness: h, oauth: o, idp: idp, srv: srv}
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(rawURL string, headers ...string) resp {
	b.t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: body}
}

// start begins a sign-in with provider in br and returns the provider's
// authorize URL.
func (h *oauthHarness) start(br *browser, provider, redirect string, headers ...string) string {
	h.t.Helper()
	path := "/auth/oauth/" + provider
	if redirect != "" {
		path += "?redirect_uri=" + url.QueryEscape(redirect)
	}
	r := br.get(h.srv.URL+path, headers...)
	if r.status != http.StatusFound {
		h.t.Fatalf("start: status %d, want 302; body %s", r.status, r.body)
	}
	return r.header.Get("Location")
}

// signIn runs a whole sign-in of who with provider and returns the
// callback's response.
func (h *oauthHarness) signIn(provider, redirect string, who identity, headers ...string) resp {
	h.t.Helper()
	br := newBrowser(h.t)
	code, cb, state := h.idp.approve(h.start(br, provider, redirect, headers...), who)
	return br.get(cb + "?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state))
}

// fragment checks a 302 to target and returns the values of its fragment.
func fragment(t *testing.T, r resp, target string) url.Values {
	t.Helper()
	if r.status != http.StatusFound {
		t.Fatalf("callback: status %d, want 302; body %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	before, frag, ok := strings.Cut(loc, "#")
	if !ok || before != target {
		t.Fatalf("Location %q, want %s#…", loc, target)
	}
	if strings.Contains(before, "access_token") || strings.Contains(before, "refresh_token") {
		t.Fatalf("Location %q carries a token outside the fragment", loc)
	}
	v, err := url.ParseQuery(frag)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signedIn checks a successful callback to target and returns the user
// its access token is.
func (h *oauthHarness) signedIn(r resp, target string) (User, url.Values) {
	h.t.Helper()
	v := fragment(h.t, r, target)
	if v.Get("access_token") == "" || v.Get("refresh_token") == "" || v.Get("token_type") != "bearer" {
		h.t.Fatalf("fragment %v lacks the tokens", v)
	}
	me := h.do("GET", "/auth/me", nil, bearerH(v.Get("access_token"))...)
	if me.status != http.StatusOK {
		h.t.Fatalf("/auth/me with the fragment's token: %d %s", me.status, me.body)
	}
	var u User
	decodeInto(h.t, me.body, &u)
	return u, v
}

func google(sub, email string) identity {
	return identity{sub: sub, email: email, verified: true}
}

// TestOAuthSignIn runs the rules that touch the database on every
// dialect: sign-up, sign-in of a linked account, linking by a signed-in
// caller and by email, the pre-account-takeover defence, listing and
// unlinking, and state replay.
func TestOAuthSignIn(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newOAuthHarness(t, dialect, nil, withSignup)

		// A new provider account makes a user with a verified email and
		// no password; the tokens come in the fragment.
		u, _ := h.signedIn(h.signIn("google", "/dashboard", google("g-1", "Alice@Example.com")), "/dashboard")
		if u.Email != "alice@example.com" || !u.EmailVerified || !u.IsActive {
			t.Fatalf("new user %+v", u)
		}
		if r := h.do("POST", "/auth/login", map[string]string{"email": "alice@example.com", "password": "anything-at-all"}); r.status != http.StatusUnauthorized {
			t.Fatalf("password login of a password-less user: %d %s", r.status, r.body)
		}
		// The linked account signs the same user in (its email at the
		// provider may have changed).
		again, _ := h.signedIn(h.signIn("google", "/", google("g-1", "alice.new@example.com")), "/")
		if again.ID != u.ID {
			t.Fatalf("second sign-in made user %s, want %s", again.ID, u.ID)
		}

		// A signed-in caller who starts a sign-in links the account.
		bob := h.register("bob@example.com", "bob-password-1")
		linked, _ := h.signedIn(h.signIn("github", "/settings", identity{sub: "4242", email: "bob-gh@example.net", verified: true}, bearerH(bob.AccessToken)...), "/settings")
		if linked.ID != bob.User.ID {
			t.Fatalf("link made user %s, want the caller %s", linked.ID, bob.User.ID)
		}
		h.login("bob@example.com", "bob-password-1") // linking kept the password
		ghBob, _ := h.signedIn(h.signIn("github", "/", identity{sub: "4242", email: "bob-gh@example.net", verified: true}), "/")
		if ghBob.ID != bob.User.ID {
			t.Fatalf("github sign-in made user %s, want %s", ghBob.ID, bob.User.ID)
		}
		// The same provider account cannot be linked by someone else.
		if r := h.signIn("github", "/", identity{sub: "4242", email: "bob-gh@example.net", verified: true}, bearerH(h.register("carol@example.com", "carol-password-1").AccessToken)...); r.status != http.StatusConflict || r.code(t) != "oauth_account_linked" {
			t.Fatalf("linking another user's account: %d %s", r.status, r.body)
		}

		// Pre-account-takeover: an attacker registered the victim's
		// email with a password; the victim signs in with a provider
		// that verified the email. The account is the victim's now: the
		// attacker's password and sessions are gone.
		att := h.register("victim@example.com", "attacker-pass-1")
		victim, _ := h.signedIn(h.signIn("google", "/", google("g-victim", "victim@example.com")), "/")
		if victim.ID != att.User.ID || !victim.EmailVerified {
			t.Fatalf("victim signed in as %+v, want the existing user %s with a verified email", victim, att.User.ID)
		}
		if r := h.do("POST", "/auth/login", map[string]string{"email": "victim@example.com", "password": "attacker-pass-1"}); r.status != http.StatusUnauthorized {
			t.Fatalf("attacker's password after the claim: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(att.AccessToken)...); r.status != http.StatusUnauthorized {
			t.Fatalf("attacker's access token after the claim: %d %s", r.status, r.body)
		}
		if r := h.refresh(att.RefreshToken); r.status != http.StatusUnauthorized {
			t.Fatalf("attacker's refresh token after the claim: %d %s", r.status, r.body)
		}
		// A verified email links without ending anything: alice's google
		// session survives her first GitHub sign-in.
		_, aliceTokens := h.signedIn(h.signIn("google", "/", google("g-1", "alice@example.com")), "/")
		viaGH, _ := h.signedIn(h.signIn("github", "/", identity{sub: "777", email: "alice@example.com", verified: true}), "/")
		if viaGH.ID != u.ID {
			t.Fatalf("github sign-in with alice's verified email made %s, want %s", viaGH.ID, u.ID)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(aliceTokens.Get("access_token"))...); r.status != http.StatusOK {
			t.Fatalf("verified user's session after a link by email: %d", r.status)
		}

		// Listing and unlinking: alice has google and github, no password.
		tok := aliceTokens.Get("access_token")
		r := h.do("GET", "/auth/oauth/accounts", nil, bearerH(tok)...)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"provider":"github"`) || !strings.Contains(string(r.body), `"provider":"google"`) {
			t.Fatalf("accounts: %d %s", r.status, r.body)
		}
		if r := h.do("DELETE", "/auth/oauth/github", nil, bearerH(tok)...); r.status != http.StatusNoContent {
			t.Fatalf("unlink github: %d %s", r.status, r.body)
		}
		if r := h.do("DELETE", "/auth/oauth/google", nil, bearerH(tok)...); r.status != http.StatusConflict || r.code(t) != "last_sign_in_method" {
			t.Fatalf("unlink the last way to sign in: %d %s", r.status, r.body)
		}
		if r := h.do("DELETE", "/auth/oauth/github", nil, bearerH(tok)...); r.status != http.StatusNotFound {
			t.Fatalf("unlink a provider not linked: %d %s", r.status, r.body)
		}
		// Bob has a password: his only link may go.
		if r := h.do("DELETE", "/auth/oauth/github", nil, bearerH(bob.AccessToken)...); r.status != http.StatusNoContent {
			t.Fatalf("unlink with a password left: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/auth/oauth/accounts", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("accounts without a token: %d", r.status)
		}

		// A state is spent by its first callback, also among concurrent ones.
		br := newBrowser(t)
		code, cb, state := h.idp.approve(h.start(br, "google", "/"), google("g-2", "dave@example.com"))
		cookie := stateCookie(t, br, h.srv.URL+"/auth/oauth/google/callback")
		var wg sync.WaitGroup
		statuses := make(chan int, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- callbackWith(t, cb, code, state, cookie).status
			}()
		}
		wg.Wait()
		close(statuses)
		won := 0
		for s := range statuses {
			switch s {
			case http.StatusFound:
				won++
			case http.StatusBadRequest:
			default:
				t.Fatalf("concurrent callback answered %d", s)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent callbacks with one state succeeded, want 1", won)
		}

		// Concurrent first sign-ins of one new provider account, from
		// several browsers, end as one user.
		type started struct {
			br              *browser
			code, cb, state string
		}
		var flows []started
		for range 4 {
			br := newBrowser(t)
			code, cb, state := h.idp.approve(h.start(br, "google", "/"), google("g-conc", "conc@example.com"))
			flows = append(flows, started{br, code, cb, state})
		}
		results := make(chan resp, len(flows))
		for _, f := range flows {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- f.br.get(f.cb + "?code=" + url.QueryEscape(f.code) + "&state=" + url.QueryEscape(f.state))
			}()
		}
		wg.Wait()
		close(results)
		ids := map[string]bool{}
		for r := range results {
			u, _ := h.signedIn(r, "/")
			ids[u.ID] = true
		}
		if len(ids) != 1 {
			t.Fatalf("concurrent first sign-ins of one account made users %v, want one", ids)
		}
	})
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// stateCookie returns the state cookie br holds for rawURL.
func stateCookie(t *testing.T, br *browser, rawURL string) string {
	t.Helper()
	u, _ := url.Parse(rawURL)
	for _, c := range br.client.Jar.Cookies(u) {
		if c.Name == OAuthStateCookie {
			return c.Value
		}
	}
	t.Fatalf("no %s cookie for %s", OAuthStateCookie, rawURL)
	return ""
}

// callbackWith calls the callback cb with code and state and the given
// state cookie ("" for none).
func callbackWith(t *testing.T, cb, code, state, cookie string) resp {
	br := newBrowser(t)
	q := url.Values{}
	if code != "" {
		q.Set("code", code)
	}
	if state != "" {
		q.Set("state", state)
	}
	var headers []string
	if cookie != "" {
		headers = []string{"Cookie", OAuthStateCookie + "=" + cookie}
	}
	return br.get(cb+"?"+q.Encode(), headers...)
}

func TestOAuthStartCookieAndPKCE(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil, withSignup)
	br := newBrowser(t)
	r := br.get(h.srv.URL + "/auth/oauth/google?redirect_uri=/x")
	if r.status != http.StatusFound {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), h.idp.srv.URL+"/authorize?") || q.Get("client_id") != "client-123" ||
		q.Get("redirect_uri") != h.srv.URL+"/auth/oauth/google/callback" || q.Get("code_challenge_method") != "S256" ||
		q.Get("state") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorize URL %s", loc)
	}
	var c *http.Cookie
	for _, k := range (&http.Response{Header: r.header}).Cookies() {
		if k.Name == OAuthStateCookie {
			c = k
		}
	}
	if c == nil || c.Value != q.Get("state") || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 ||
		c.Path != "/auth/oauth/google" || c.Secure {
		t.Fatalf("state cookie %+v (plain HTTP: not Secure)", c)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	// The verifier reaches the token endpoint, which checks it against
	// the challenge (the fake refuses a mismatch).
	code, cb, state := h.idp.approve(loc.String(), google("s", "pkce@example.com"))
	h.signedIn(br.get(cb+"?code="+code+"&state="+state), "/x")
	v := h.idp.verifiersSeen()
	if len(v) != 1 || len(v[0]) < 43 {
		t.Fatalf("verifiers sent: %q", v)
	}

	// Behind TLS (PublicURL https) the cookie is Secure and the
	// callback is PublicURL's.
	o, err := NewOAuth(context.Background(), h.auth, OAuthConfig{
		Providers: map[string]OAuthProvider{"google": h.idp.oidcConfig()}, PublicURL: "https://api.example.com/",
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/auth/oauth/google", nil)
	mux := chi.NewRouter()
	mux.Mount("/auth/oauth", o.Routes())
	mux.ServeHTTP(rec, req)
	res := rec.Result()
	loc, _ = url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("redirect_uri") != "https://api.example.com/auth/oauth/google/callback" {
		t.Fatalf("callback with PublicURL: %s", loc)
	}
	if cs := res.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("cookie with an https PublicURL: %+v", cs)
	}

	// A single-page app asks for JSON.
	r = newBrowser(t).get(h.srv.URL+"/auth/oauth/google", "Accept", "application/json")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"authorization_url":"`+h.idp.srv.URL+`/authorize?`) {
		t.Fatalf("JSON start: %d %s", r.status, r.body)
	}
	if r := newBrowser(t).get(h.srv.URL + "/auth/oauth/nope"); r.status != http.StatusNotFound {
		t.Fatalf("unknown provider: %d", r.status)
	}
	if r := newBrowser(t).get(h.srv.URL + "/auth/oauth/nope/callback?code=c&state=s"); r.status != http.StatusNotFound {
		t.Fatalf("unknown provider's callback: %d", r.status)
	}
	// A refused token on the start is said, not turned into a sign-in
	// of someone else.
	if r := newBrowser(t).get(h.srv.URL+"/auth/oauth/google", "Authorization", "Bearer not-a-token"); r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
		t.Fatalf("start with a bad token: %d %s", r.status, r.body)
	}
}

func TestOAuthStateRefused(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil, withSignup)
	who := google("s-1", "state@example.com")
	begin := func() (br *browser, code, cb, state, cookie string) {
		br = newBrowser(t)
		code, cb, state = h.idp.approve(h.start(br, "google", "/"), who)
		return br, code, cb, state, stateCookie(t, br, cb)
	}
	expect400 := func(name string, r resp) {
		t.Helper()
		if r.status != http.StatusBadRequest || r.code(t) != "invalid_state" {
			t.Fatalf("%s: %d %s, want 400 invalid_state", name, r.status, r.body)
		}
	}
	_, code, cb, state, cookie := begin()
	expect400("no state", callbackWith(t, cb, code, "", cookie))
	expect400("no cookie (another browser)", callbackWith(t, cb, code, state, ""))
	expect400("state not the cookie's", callbackWith(t, cb, code, state, "x"+cookie[1:]))
	_, code, cb, _, _ = begin()
	expect400("made-up state in both", callbackWith(t, cb, code, "made-up", "made-up"))

	// Replay: the same callback twice.
	_, code, cb, state, cookie = begin()
	h.signedIn(callbackWith(t, cb, code, state, cookie), "/")
	expect400("replayed state", callbackWith(t, cb, code, state, cookie))

	// Expired: the state row is past its expiry.
	_, code, cb, state, cookie = begin()
	ctx := context.Background()
	rows, err := h.store.FindEntities(ctx, TableOAuthStates, db.Query{Where: "[state_hash] = ?", Params: []any{hashToken(state)}})
	if err != nil || len(rows) != 1 {
		t.Fatalf("state row: %v %v", rows, err)
	}
	if _, err := h.store.SaveEntity(ctx, TableOAuthStates, db.Entity{"id": rows[0]["id"], "expires_at": time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	expect400("expired state", callbackWith(t, cb, code, state, cookie))

	// Mix-up: a state started for google presented at github's callback.
	_, code, cb, state, cookie = begin()
	expect400("another provider's state", callbackWith(t, strings.Replace(cb, "/google/", "/github/", 1), code, state, cookie))
	// ...and it is spent.
	expect400("state after a mix-up", callbackWith(t, cb, code, state, cookie))

	// The provider's refusal returns to the app with the reason.
	_, _, cb, state, cookie = begin()
	r := newBrowser(t).get(cb+"?error=access_denied&state="+state, "Cookie", OAuthStateCookie+"="+cookie)
	if v := fragment(t, r, "/"); v.Get("error") != "access_denied" || v.Get("access_token") != "" {
		t.Fatalf("provider error: %v", v)
	}
}

func TestOAuthExchangeFailure(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil, withSignup)
	br := newBrowser(t)
	_, cb, state := h.idp.approve(h.start(br, "google", "/"), google("s", "x@example.com"))
	r := br.get(cb + "?code=not-the-code&state=" + state)
	if r.status != http.StatusBadGateway || r.code(t) != "oauth_provider_error" {
		t.Fatalf("bad code: %d %s, want 502 oauth_provider_error", r.status, r.body)
	}
	h.idp.mu.Lock()
	h.idp.failToken = true
	h.idp.mu.Unlock()
	if r := h.signIn("github", "/", identity{sub: "1", email: "x@example.com", verified: true}); r.status != http.StatusBadGateway {
		t.Fatalf("token endpoint down: %d %s", r.status, r.body)
	}
}

func TestOAuthForgedIDTokens(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil, withSignup)
	_, forger := testKeys(t)
	cases := []struct {
		name string
		who  identity
		code string
	}{
		{"wrong key", identity{signer: forger}, "invalid_id_token"},
		{"wrong audience", identity{idToken: func(c jwt.MapClaims) { c["aud"] = "someone-else" }}, "invalid_id_token"},
		{"expired", identity{idToken: func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }}, "invalid_id_token"},
		{"wrong issuer", identity{idToken: func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }}, "invalid_id_token"},
		{"wrong nonce", identity{idToken: func(c jwt.MapClaims) { c["nonce"] = "replayed" }}, "invalid_id_token"},
		{"email_verified false", identity{}, "email_not_verified"},
		{"email_verified missing", identity{verified: true, idToken: func(c jwt.MapClaims) { delete(c, "email_verified") }}, "email_not_verified"},
	}
	for i, c := range cases {
		who := c.who
		who.sub, who.email = "forged-"+string(rune('a'+i)), "forged@example.com"
		if c.name != "email_verified false" && c.name != "email_verified missing" {
			who.verified = true
		}
		r := h.signIn("google", "/", who)
		if r.code(t) != c.code || (r.status != http.StatusUnauthorized && r.status != http.StatusForbidden) {
			t.Fatalf("%s: %d %s, want %s", c.name, r.status, r.body, c.code)
		}
	}
	if _, err := h.auth.GetUserByEmail(context.Background(), "forged@example.com"); err != ErrUserNotFound {
		t.Fatalf("a forged ID token made a user: %v", err)
	}
}

func TestOAuthGitHubEmails(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil, withSignup)
	u, _ := h.signedIn(h.signIn("github", "/", identity{sub: "99", email: "Octo@Example.com", verified: true}), "/")
	if u.Email != "octo@example.com" || !u.EmailVerified {
		t.Fatalf("github user %+v", u)
	}
	// Only the primary email counts, and only when verified.
	for name, emails := range map[string][]map[string]any{
		"primary unverified": {{"email": "a@example.com", "primary": true, "verified": false}, {"email": "b@example.com", "primary": false, "verified": true}},
		"no emails":          {},
	} {
		r := h.signIn("github", "/", identity{sub: "100", ghEmails: emails})
		if r.status != http.StatusForbidden || r.code(t) != "email_not_verified" {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
}

func TestOAuthRedirectTargets(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil, withSignup)
	refused := []string{
		"https://evil.com", "//evil.com", "/\\evil.com", "https://app.example.com.evil.com",
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", "/ok\r\nLocation: https://evil.com", "/\tevil", "/x\x00",
		"https://app.example.com@evil.com/", "http://app.example.com", "https://app.example.com:8443/",
		"data:text/html,hi", "///evil.com", "http://localhost:3000/cb", "\\\\evil.com",
	}
	for _, target := range refused {
		if got := h.oauth.redirectTarget(target); got != "/" {
			t.Errorf("redirectTarget(%q) = %q, want /", target, got)
		}
	}
	allowed := []string{"/dashboard", "/a/b?tab=1", "https://app.example.com/cb", "https://APP.example.com/x?y=1"}
	for _, target := range allowed {
		if got := h.oauth.redirectTarget(target); got != target {
			t.Errorf("redirectTarget(%q) = %q, want it kept", target, got)
		}
	}
	// End to end: an attacker's target lands on "/", an allowed origin
	// gets the tokens in its fragment (an old fragment is replaced).
	h.signedIn(h.signIn("google", "/", google("r1", "r1@example.com")), "/")
	h.signedIn(h.signIn("google", "https://evil.com/steal", google("r1", "r1@example.com")), "/")
	fragment(t, h.signIn("google", "https://app.example.com/cb#old", google("r1", "r1@example.com")), "https://app.example.com/cb")

	// Loopback origins on any port, in development only.
	dev := &OAuth{cfg: OAuthConfig{AllowLoopbackRedirects: true}, origins: map[string]bool{}}
	for _, target := range []string{"http://localhost:5173/cb", "http://127.0.0.1:3000/", "http://[::1]:8080/x"} {
		if got := dev.redirectTarget(target); got != target {
			t.Errorf("dev redirectTarget(%q) = %q", target, got)
		}
	}
	if got := dev.redirectTarget("http://localhost.evil.com/"); got != "/" {
		t.Errorf("dev redirectTarget(localhost.evil.com) = %q", got)
	}
}

func TestOAuthSignupRules(t *testing.T) {
	t.Parallel()
	h := newOAuthHarness(t, "sqlite", nil) // self-signup off
	// The first user of an empty database may sign up, and is admin.
	first, _ := h.signedIn(h.signIn("google", "/", google("first", "first@example.com")), "/")
	if first.Role != RoleAdmin {
		t.Fatalf("first user %+v, want admin", first)
	}
	if r := h.signIn("google", "/", google("second", "second@example.com")); r.status != http.StatusForbidden || r.code(t) != "signup_disabled" {
		t.Fatalf("closed signup: %d %s", r.status, r.body)
	}
	// An invite for the provider's email opens it.
	h.invite(first.WorkspaceID, "second@example.com", "inv-1")
	br := newBrowser(t)
	r := br.get(h.srv.URL + "/auth/oauth/google?invite_token=inv-1&redirect_uri=/welcome")
	code, cb, state := h.idp.approve(r.header.Get("Location"), google("second", "second@example.com"))
	second, _ := h.signedIn(br.get(cb+"?code="+code+"&state="+state), "/welcome")
	if ok, _ := h.ws.IsMember(context.Background(), first.WorkspaceID, second.ID); !ok {
		t.Fatalf("invited user is not a member of the inviting workspace")
	}
	// A deactivated user cannot sign in through a provider either.
	if _, err := h.auth.SetActive(context.Background(), second.ID, false); err != nil {
		t.Fatal(err)
	}
	if r := h.signIn("google", "/", google("second", "second@example.com")); r.status != http.StatusForbidden || r.code(t) != "account_disabled" {
		t.Fatalf("deactivated user: %d %s", r.status, r.body)
	}
}

func TestOAuthConfigRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sqlite")
	ok := OAuthProvider{ClientID: "id", ClientSecret: "s"}
	for name, cfg := range map[string]OAuthConfig{
		"no provider":      {},
		"no secret":        {Providers: map[string]OAuthProvider{"google": {ClientID: "id"}}},
		"no endpoints":     {Providers: map[string]OAuthProvider{"acme": ok}},
		"name accounts":    {Providers: map[string]OAuthProvider{"accounts": {ClientID: "id", ClientSecret: "s", IssuerURL: "https://x"}}},
		"bad public url":   {Providers: map[string]OAuthProvider{"google": ok}, PublicURL: "api.example.com"},
		"origin with path": {Providers: map[string]OAuthProvider{"google": ok}, RedirectOrigins: []string{"https://app.example.com/x"}},
		"non-http issuer":  {Providers: map[string]OAuthProvider{"x": {ClientID: "id", ClientSecret: "s", IssuerURL: "ftp://x"}}},
		"upper-case name":  {Providers: map[string]OAuthProvider{"Google": ok}},
	} {
		if _, err := NewOAuth(context.Background(), h.auth, cfg); err == nil {
			t.Errorf("%s: NewOAuth accepted %+v", name, cfg)
		}
	}
	// google and github need nothing but their credentials.
	o, err := NewOAuth(context.Background(), h.auth, OAuthConfig{Providers: map[string]OAuthProvider{"google": ok, "github": ok}})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Providers(); len(got) != 2 || got[0] != "github" || got[1] != "google" {
		t.Fatalf("providers %v", got)
	}
	if gh := o.providers["github"].cfg; gh.TokenURL != GitHubTokenURL || gh.APIURL != GitHubAPIURL {
		t.Fatalf("github defaults %+v", gh)
	}
}
