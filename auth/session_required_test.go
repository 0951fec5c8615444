package auth

import (
	"net/http"
	"testing"
	"time"

	"appkernel/db/dbtest"

	"github.com/golang-jwt/jwt/v5"
)

// TestAccessTokenWithoutLiveSessionRefused: someone holding the signing
// secret (leaked, or the development default) mints access tokens with
// golang-jwt. A token that names no session, or a session ended by
// logout-all or by a password change, is 401: every access token must
// name a live session, so ending sessions ends every token.
func TestAccessTokenWithoutLiveSessionRefused(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		a := h.register("a@example.com", "a-password-1")
		mint := func(sid string) string {
			now := time.Now()
			claims := jwt.MapClaims{
				"sub": a.User.ID, "email": a.User.Email, "role": RoleAdmin, "ws": a.User.WorkspaceID,
				"typ": "access", "iss": "appkernel", "jti": "forged",
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			}
			if sid != "" {
				claims["sid"] = sid
			}
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		me := func(tok string) resp { return h.do("GET", "/auth/me", nil, bearerH(tok)...) }
		refused := func(what, tok string) {
			t.Helper()
			if r := me(tok); r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
				t.Fatalf("%s: %d %s, want 401 invalid_token", what, r.status, r.body)
			}
		}

		// A minted token naming a live session passes: the checks below
		// refuse the tokens for their session alone.
		live := sessionOf(t, h.auth, a.AccessToken)
		if r := me(mint(live)); r.status != http.StatusOK {
			t.Fatalf("minted token of a live session: %d %s", r.status, r.body)
		}
		refused("no sid", mint(""))
		refused("sid of no session", mint("0198c4a6-0000-7000-8000-000000000000"))

		// Ended by logout-all.
		if r := h.do("POST", "/auth/logout", map[string]any{"all": true}, bearerH(a.AccessToken)...); r.status != http.StatusNoContent {
			t.Fatalf("logout all: %d %s", r.status, r.body)
		}
		refused("sid ended by logout-all", mint(live))
		refused("no sid after logout-all", mint(""))

		// Ended by a password change (from another session).
		b := h.login("a@example.com", "a-password-1")
		c := h.login("a@example.com", "a-password-1")
		if r := h.do("POST", "/auth/password", map[string]string{"current_password": "a-password-1", "new_password": "b-password-2"},
			bearerH(c.AccessToken)...); r.status != http.StatusNoContent {
			t.Fatalf("change password: %d %s", r.status, r.body)
		}
		refused("sid ended by a password change", mint(sessionOf(t, h.auth, b.AccessToken)))
		refused("no sid after a password change", mint(""))
		if r := me(mint(sessionOf(t, h.auth, c.AccessToken))); r.status != http.StatusOK {
			t.Fatalf("the session that changed the password lives on: %d %s", r.status, r.body)
		}
	})
}
