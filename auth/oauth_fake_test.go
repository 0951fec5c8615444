package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Two RSA keys for every fake provider of the package: the one its JWKS
// publishes, and a forger's.
var (
	keysOnce            sync.Once
	providerKey, forged *rsa.PrivateKey
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if providerKey, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			forged, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			panic(err)
		}
	})
	return providerKey, forged
}

// identity is who signs in at the fake provider, and how the provider
// misbehaves for this sign-in.
type identity struct {
	sub      string
	email    string
	verified bool
	// idToken edits the ID token's claims before signing (OIDC).
	idToken func(c jwt.MapClaims)
	// signer signs the ID token. Defaults to the published key.
	signer *rsa.PrivateKey
	// ghEmails replaces GitHub's /user/emails answer.
	ghEmails []map[string]any
}

// grant is an authorization code the fake provider issued.
type grant struct {
	who         identity
	challenge   string
	redirectURI string
	nonce       string
	clientID    string
}

// fakeProvider is an OpenID Connect provider (discovery, JWKS,
// authorize, token) and a GitHub-like API (/user, /user/emails) on one
// httptest server.
type fakeProvider struct {
	t        *testing.T
	srv      *httptest.Server
	clientID string
	secret   string

	mu        sync.Mutex
	grants    map[string]grant
	tokens    map[string]identity // access token → identity
	verifiers []string            // code_verifier of every token request
	failToken bool
}

func newFakeProvider(t *testing.T) *fakeProvider {
	key, _ := testKeys(t)
	f := &fakeProvider{t: t, clientID: "client-123", secret: "secret-456", grants: map[string]grant{}, tokens: map[string]identity{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, 200, map[string]any{
			"issuer":                                f.srv.URL,
			"authorization_endpoint":                f.srv.URL + "/authorize",
			"token_endpoint":                        f.srv.URL + "/token",
			"jwks_uri":                              f.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, 200, map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("POST /token", f.handleToken)
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		who, ok := f.bearer(r)
		if !ok {
			writeJSONTest(w, 401, map[string]any{"message": "Bad credentials"})
			return
		}
		id, _ := strconv.ParseInt(who.sub, 10, 64)
		writeJSONTest(w, 200, map[string]any{"id": id, "login": "octo"})
	})
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		who, ok := f.bearer(r)
		if !ok {
			writeJSONTest(w, 401, map[string]any{"message": "Bad credentials"})
			return
		}
		emails := who.ghEmails
		if emails == nil {
			emails = []map[string]any{
				{"email": "other@example.org", "primary": false, "verified": true},
				{"email": who.email, "primary": true, "verified": who.verified},
			}
		}
		writeJSONTest(w, 200, emails)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSONTest(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeProvider) bearer(r *http.Request) (identity, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	who, known := f.tokens[tok]
	return who, ok && known
}

// approve is the user consenting at authURL (the provider's authorize
// URL the kernel redirected to): it returns the code the provider sends
// back to the redirect_uri.
func (f *fakeProvider) approve(authURL string, who identity) (code, redirectURI, state string) {
	f.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		f.t.Fatalf("authorize request %s lacks a code flow with PKCE S256", authURL)
	}
	code = rand.Text()
	f.mu.Lock()
	f.grants[code] = grant{who: who, challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"), clientID: q.Get("client_id")}
	f.mu.Unlock()
	return code, q.Get("redirect_uri"), q.Get("state")
}

func (f *fakeProvider) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSONTest(w, 400, map[string]any{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != f.clientID || secret != f.secret {
		writeJSONTest(w, 401, map[string]any{"error": "invalid_client"})
		return
	}
	code, verifier := r.PostForm.Get("code"), r.PostForm.Get("code_verifier")
	f.mu.Lock()
	g, known := f.grants[code]
	delete(f.grants, code)
	f.verifiers = append(f.verifiers, verifier)
	fail := f.failToken
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(verifier))
	switch {
	case fail:
		writeJSONTest(w, 500, map[string]any{"error": "server_error"})
		return
	case !known || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != g.redirectURI:
		writeJSONTest(w, 400, map[string]any{"error": "invalid_grant"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSONTest(w, 400, map[string]any{"error": "invalid_grant", "error_description": "PKCE verification failed"})
		return
	}
	access := rand.Text()
	f.mu.Lock()
	f.tokens[access] = g.who
	f.mu.Unlock()
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": f.srv.URL, "sub": g.who.sub, "aud": g.clientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"nonce": g.nonce, "email": g.who.email, "email_verified": g.who.verified,
	}
	if g.who.idToken != nil {
		g.who.idToken(claims)
	}
	signer := g.who.signer
	if signer == nil {
		signer, _ = testKeys(f.t)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1"
	idToken, err := tok.SignedString(signer)
	if err != nil {
		writeJSONTest(w, 500, map[string]any{"error": err.Error()})
		return
	}
	writeJSONTest(w, 200, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

// verifiersSeen returns the code_verifier of every token request so far.
func (f *fakeProvider) verifiersSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.verifiers...)
}

// oidcConfig is the provider as an OpenID Connect provider.
func (f *fakeProvider) oidcConfig() OAuthProvider {
	return OAuthProvider{ClientID: f.clientID, ClientSecret: f.secret, IssuerURL: f.srv.URL}
}

// githubConfig is the provider as a GitHub-like one.
func (f *fakeProvider) githubConfig() OAuthProvider {
	return OAuthProvider{ClientID: f.clientID, ClientSecret: f.secret,
		AuthURL: f.srv.URL + "/authorize", TokenURL: f.srv.URL + "/token", APIURL: f.srv.URL}
}
