package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/db/dbtest"
)

func TestAccessTokenForgeryTable(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		s := h.register("a@example.com", "a-password-1")
		for name, tok := range forgedTokens(t, testSecret) {
			r := h.do("GET", "/auth/me", nil, bearerH(tok)...)
			if r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
				t.Errorf("%s: %d %s, want 401 invalid_token", name, r.status, r.body)
			}
			if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
			}
		}
		// A well-signed token for a user that does not exist.
		ghost, err := h.auth.signer.issue(User{ID: "no-such-user", Role: RoleAdmin}, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r := h.do("GET", "/admin-only", nil, bearerH(ghost)...); r.status != http.StatusUnauthorized {
			t.Fatalf("token of an unknown user: %d %s", r.status, r.body)
		}
		// The real one passes; no token is anonymous, not an error.
		if r := h.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("valid token: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/whoami", nil); r.status != http.StatusOK || r.json(t)["authenticated"] != false {
			t.Fatalf("anonymous: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/auth/me", nil); r.status != http.StatusUnauthorized || r.code(t) != "unauthorized" {
			t.Fatalf("anonymous /auth/me: %d %s", r.status, r.body)
		}
		// API keys are left to API-key authentication.
		if r := h.do("GET", "/whoami", nil, bearerH("sk_live_abc")...); r.status != http.StatusOK || r.json(t)["authenticated"] != false {
			t.Fatalf("api key: %d %s", r.status, r.body)
		}
	})
}

func TestRefreshRotates(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		// The retry below must land within the grace window, measured on
		// the wall clock (the successor's created_at): a generous one.
		h := newHarness(t, dialect, withRefreshGrace(time.Minute))
		s := h.register("a@example.com", "a-password-1")
		r := h.refresh(s.RefreshToken)
		next := h.decodeSession(r, http.StatusOK)
		if next.RefreshToken == s.RefreshToken || next.User.ID != s.User.ID || next.AccessToken == "" {
			t.Fatalf("refresh answered %+v", next)
		}
		// Within the grace window the spent token yields the same successor
		// (a client that lost the response), not a second rotation.
		again := h.decodeSession(h.refresh(s.RefreshToken), http.StatusOK)
		if again.RefreshToken != next.RefreshToken {
			t.Fatal("a retry within the grace window minted a second refresh token")
		}
		// The successor rotates in turn.
		third := h.decodeSession(h.refresh(next.RefreshToken), http.StatusOK)
		if r := h.do("GET", "/auth/me", nil, bearerH(third.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("access token from refresh: %d %s", r.status, r.body)
		}
		// Tokens are stored hashed: no row holds the raw token.
		rows, err := h.store.FindEntities(context.Background(), TableRefresh, db.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			b, _ := json.Marshal(row)
			for _, raw := range []string{s.RefreshToken, next.RefreshToken, third.RefreshToken} {
				if strings.Contains(string(b), raw) {
					t.Fatalf("refresh token stored in the clear: %s", b)
				}
			}
		}
		if r := h.refresh("garbage"); r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
			t.Fatalf("garbage refresh token: %d %s", r.status, r.body)
		}
	})
}

// TestRefreshReuseRevokesSession: a spent token presented after the grace
// window is a replay; the whole family dies, including the live successor
// and the session's access tokens.
func TestRefreshReuseRevokesSession(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withRefreshGrace(200*time.Millisecond))
		s := h.register("a@example.com", "a-password-1")
		other := h.login("a@example.com", "a-password-1") // another session of the same user
		next := h.decodeSession(h.refresh(s.RefreshToken), http.StatusOK)
		time.Sleep(300 * time.Millisecond)
		if r := h.refresh(s.RefreshToken); r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
			t.Fatalf("replayed spent token: %d %s", r.status, r.body)
		}
		if r := h.refresh(next.RefreshToken); r.status != http.StatusUnauthorized {
			t.Fatalf("successor after reuse: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(next.AccessToken)...); r.status != http.StatusUnauthorized {
			t.Fatalf("access token of the revoked session: %d %s", r.status, r.body)
		}
		// The user's other session is untouched.
		if r := h.refresh(other.RefreshToken); r.status != http.StatusOK {
			t.Fatalf("other session: %d %s", r.status, r.body)
		}
		if !strings.Contains(h.logs.String(), "refresh token reused") {
			t.Fatal("reuse was not logged")
		}
	})
}

// TestRefreshRace: concurrent refreshes of one token rotate it once; every
// caller gets the same successor.
func TestRefreshRace(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		s := h.register("a@example.com", "a-password-1")
		const n = 8
		got := make([]resp, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				got[i] = h.refresh(s.RefreshToken)
			})
		}
		close(start)
		wg.Wait()
		tokens := map[string]bool{}
		for i, r := range got {
			if r.status != http.StatusOK {
				t.Fatalf("refresh %d: %d %s", i, r.status, r.body)
			}
			var sess session
			_ = json.Unmarshal(r.body, &sess)
			tokens[sess.RefreshToken] = true
		}
		if len(tokens) != 1 {
			t.Fatalf("%d distinct successors from one refresh token, want 1", len(tokens))
		}
		cnt, err := h.store.CountEntities(context.Background(), TableRefresh, "[user_id] = ?", s.User.ID)
		if err != nil || cnt != 2 {
			t.Fatalf("%d refresh tokens stored (%v), want 2: the original and one successor", cnt, err)
		}
		for tok := range tokens {
			h.decodeSession(h.refresh(tok), http.StatusOK)
		}
	})
}

func TestRefreshSessionExpires(t *testing.T) {
	t.Parallel()
	// The service's clock stands still until moved: the refresh below is
	// inside the session's lifetime however slow the machine is.
	clock := &fakeClock{t: time.Now()}
	h := newHarness(t, "sqlite", withConfig(func(c *Config) { c.RefreshTTL = 500 * time.Millisecond; c.Now = clock.now }))
	s := h.register("a@example.com", "a-password-1")
	next := h.decodeSession(h.refresh(s.RefreshToken), http.StatusOK)
	clock.add(600 * time.Millisecond)
	// Rotation does not extend the session: its lifetime is absolute.
	if r := h.refresh(next.RefreshToken); r.status != http.StatusUnauthorized {
		t.Fatalf("refresh after the session's lifetime: %d %s", r.status, r.body)
	}
}

func TestLogout(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		a := h.register("a@example.com", "a-password-1")
		b := h.login("a@example.com", "a-password-1")
		c := h.login("a@example.com", "a-password-1")

		if r := h.do("POST", "/auth/logout", map[string]string{"refresh_token": a.RefreshToken}); r.status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		if r := h.refresh(a.RefreshToken); r.status != http.StatusUnauthorized {
			t.Fatalf("refresh after logout: %d", r.status)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(a.AccessToken)...); r.status != http.StatusUnauthorized {
			t.Fatalf("access token after logout: %d", r.status)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(b.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("other session after logout of one: %d", r.status)
		}
		// Logging out twice, or an unknown token, is still 204.
		if r := h.do("POST", "/auth/logout", map[string]string{"refresh_token": a.RefreshToken}); r.status != http.StatusNoContent {
			t.Fatalf("second logout: %d", r.status)
		}
		if r := h.do("POST", "/auth/logout", map[string]any{}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("empty logout: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/auth/logout", map[string]any{"all": true}); r.status != http.StatusUnauthorized {
			t.Fatalf("logout all without a user: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/auth/logout", map[string]any{"all": true}, bearerH(b.AccessToken)...); r.status != http.StatusNoContent {
			t.Fatalf("logout all: %d %s", r.status, r.body)
		}
		for _, s := range []session{b, c} {
			if r := h.refresh(s.RefreshToken); r.status != http.StatusUnauthorized {
				t.Fatalf("refresh after logout all: %d", r.status)
			}
			if r := h.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...); r.status != http.StatusUnauthorized {
				t.Fatalf("access after logout all: %d", r.status)
			}
		}
	})
}

func TestChangePassword(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		cur := h.register("a@example.com", "old-password-1")
		other := h.login("a@example.com", "old-password-1")
		change := func(tok, current, next string) resp {
			return h.do("POST", "/auth/password", map[string]string{"current_password": current, "new_password": next}, bearerH(tok)...)
		}
		if r := change(cur.AccessToken, "wrong-password", "new-password-1"); r.status != http.StatusForbidden || r.code(t) != "wrong_password" {
			t.Fatalf("wrong current password: %d %s", r.status, r.body)
		}
		if r := change(cur.AccessToken, "old-password-1", "password1"); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("common new password: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/auth/password", map[string]string{"current_password": "old-password-1", "new_password": "new-password-1"}); r.status != http.StatusUnauthorized {
			t.Fatalf("anonymous change: %d %s", r.status, r.body)
		}
		if r := change(cur.AccessToken, "old-password-1", "new-password-1"); r.status != http.StatusNoContent {
			t.Fatalf("change: %d %s", r.status, r.body)
		}
		// Every other session ended; the current one lives on.
		if r := h.refresh(other.RefreshToken); r.status != http.StatusUnauthorized {
			t.Fatalf("other session's refresh: %d", r.status)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(other.AccessToken)...); r.status != http.StatusUnauthorized {
			t.Fatalf("other session's access: %d", r.status)
		}
		if r := h.do("GET", "/auth/me", nil, bearerH(cur.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("current session's access: %d", r.status)
		}
		h.decodeSession(h.refresh(cur.RefreshToken), http.StatusOK)
		if r := h.do("POST", "/auth/login", map[string]string{"email": "a@example.com", "password": "old-password-1"}); r.status != http.StatusUnauthorized {
			t.Fatalf("old password still logs in: %d", r.status)
		}
		h.login("a@example.com", "new-password-1")
	})
}

// TestChangePasswordEndsConcurrentLogins: an attacker who knows the old
// password keeps logging in while its owner changes it. Logins that
// verified the old hash before the change but open their session after
// it must not survive: every session but the caller's ends.
func TestChangePasswordEndsConcurrentLogins(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		// Production argon2 parameters: the slower the verification, the
		// more logins straddle the change.
		h := newHarness(t, dialect, withConfig(func(c *Config) { c.Argon2 = DefaultArgon2Params() }))
		ctx := context.Background()
		owner := h.register("victim@example.com", "old-password-1")

		var (
			stop   atomic.Bool
			mu     sync.Mutex
			stolen []*Tokens
			wg     sync.WaitGroup
		)
		first := make(chan struct{})
		var once sync.Once
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					tk, err := h.auth.Login(ctx, LoginInput{Email: "victim@example.com", Password: "old-password-1", ClientIP: "10.9.9.9"})
					if err == nil {
						mu.Lock()
						stolen = append(stolen, tk)
						mu.Unlock()
						once.Do(func() { close(first) })
					}
				}
			})
		}
		select {
		case <-first: // the attacker's logins are under way
		case <-time.After(time.Minute):
			stop.Store(true)
			wg.Wait()
			t.Fatal("no login with the old password succeeded")
		}
		if err := h.auth.ChangePassword(ctx, owner.User.ID, "", "old-password-1", "new-password-2", "10.1.1.1"); err != nil {
			t.Fatal(err)
		}
		stop.Store(true)
		wg.Wait()

		survivors := 0
		for _, tk := range stolen {
			_, aerr := h.auth.VerifyAccessToken(ctx, tk.AccessToken)
			_, rerr := h.auth.Refresh(ctx, tk.RefreshToken)
			if aerr == nil || rerr == nil {
				survivors++
			}
		}
		t.Logf("%d sessions opened with the old password, %d alive after the change", len(stolen), survivors)
		if survivors > 0 {
			t.Fatalf("%d sessions opened with the old password survive ChangePassword", survivors)
		}
	})
}

func TestWorkspaceSwitching(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		a := h.register("a@example.com", "a-password-1")
		b := h.register("b@example.com", "b-password-1")
		h.invite(a.User.WorkspaceID, "c@example.com", "inv")
		c := h.decodeSession(h.do("POST", "/auth/register", map[string]string{"email": "c@example.com", "password": "c-password-1", "invite_token": "inv"}), http.StatusCreated)

		me := func(tok, ws string) resp {
			return h.do("GET", "/auth/me", nil, append(bearerH(tok), "X-Workspace-ID", ws)...)
		}
		// c is a member of a's workspace: it may act there.
		r := me(c.AccessToken, a.User.WorkspaceID)
		if r.status != http.StatusOK || r.json(t)["workspace_id"] != a.User.WorkspaceID {
			t.Fatalf("member switching: %d %s", r.status, r.body)
		}
		// b is not: refused, whether the workspace exists or not.
		for _, ws := range []string{a.User.WorkspaceID, "no-such-workspace"} {
			r = me(b.AccessToken, ws)
			if r.status != http.StatusForbidden || r.code(t) != "forbidden" {
				t.Fatalf("non-member switching to %q: %d %s", ws, r.status, r.body)
			}
		}
		// Without the header the personal workspace is current.
		r = me(c.AccessToken, "")
		if r.json(t)["workspace_id"] != c.User.WorkspaceID {
			t.Fatalf("default workspace: %s", r.body)
		}
	})
}

// TestWorkspaceSwitchingOutOfPersonalWorkspace: a user removed from their
// own personal workspace (another owner may do so) no longer has it as
// current workspace, with or without X-Workspace-ID naming it; a member's
// personal workspace is checked through the membership cache, so a warm
// request sends no statement.
func TestWorkspaceSwitchingOutOfPersonalWorkspace(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		a := h.register("a@example.com", "a-password-1")
		b := h.register("b@example.com", "b-password-1")
		h.removeMember(a.User.WorkspaceID, a.User.ID)
		me := func(tok string, header ...string) resp {
			return h.do("GET", "/auth/me", nil, append(bearerH(tok), header...)...)
		}
		if r := me(a.AccessToken); r.status != http.StatusOK || r.json(t)["workspace_id"] != "" {
			t.Fatalf("removed from the personal workspace, no header: %d %s", r.status, r.body)
		}
		if r := me(a.AccessToken, "X-Workspace-ID", a.User.WorkspaceID); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Fatalf("removed from the personal workspace, naming it: %d %s", r.status, r.body)
		}
		// b still is a member of theirs.
		for _, hdr := range [][]string{nil, {"X-Workspace-ID", b.User.WorkspaceID}} {
			if r := me(b.AccessToken, hdr...); r.status != http.StatusOK || r.json(t)["workspace_id"] != b.User.WorkspaceID {
				t.Fatalf("member of the personal workspace, header %q: %d %s", hdr, r.status, r.body)
			}
		}
		before := h.store.Stats().Statements
		if r := h.do("GET", "/whoami", nil, bearerH(b.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("whoami: %d %s", r.status, r.body)
		}
		if sent := h.store.Stats().Statements - before; sent != 0 {
			t.Fatalf("a warm request in the personal workspace sent %d statements", sent)
		}
	})
}

// TestNoSecretsInHistoryOrLogs: after a full life cycle, no password,
// hash or refresh token appears in users' history or in the logs.
func TestNoSecretsInHistoryOrLogs(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		h := newHarness(t, dialect)
		s := h.register("a@example.com", "first-password")
		h.login("a@example.com", "first-password")
		h.do("POST", "/auth/login", map[string]string{"email": "a@example.com", "password": "wrong-password"})
		n := h.decodeSession(h.refresh(s.RefreshToken), http.StatusOK)
		h.do("POST", "/auth/password", map[string]string{"current_password": "first-password", "new_password": "second-password"}, bearerH(n.AccessToken)...)
		if _, err := h.auth.SetActive(ctx, s.User.ID, false); err != nil {
			t.Fatal(err)
		}
		hist, err := h.store.History(ctx, TableUsers, s.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) < 2 {
			t.Fatalf("users history has %d versions", len(hist))
		}
		hb, _ := json.Marshal(hist)
		logs := h.logs.String()
		for _, secret := range []string{"$argon2id", "first-password", "second-password", "wrong-password", s.RefreshToken, n.RefreshToken, s.AccessToken} {
			if strings.Contains(string(hb), secret) {
				t.Errorf("users history contains %.16q", secret)
			}
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %.16q", secret)
			}
		}
		pw, err := h.auth.passwordRow(ctx, s.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := h.store.History(ctx, TablePasswords, pw["id"].(string)); err == nil && len(v) > 0 {
			t.Errorf("%s has history: %v", TablePasswords, v)
		}
		var me map[string]any
		_ = json.Unmarshal(h.do("POST", "/auth/login", map[string]string{"email": "a@example.com", "password": "second-password"}).body, &me)
		if strings.Contains(string(h.do("GET", "/auth/me", nil, bearerH(n.AccessToken)...).body), "argon2") {
			t.Error("/auth/me shows a hash")
		}
	})
}
