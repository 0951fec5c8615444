package auth

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"appkernel/db"
	"appkernel/db/dbtest"
)

// TestMadeUpWorkspaceIDsCostNoStatements: a signed-in client naming a
// new made-up X-Workspace-ID on every request is refused (403) without a
// statement per request — the user's memberships are read once and
// cached, refusals included. A membership added afterwards counts at once
// where ForgetMemberships is called (the process that added it), and
// within MembershipCacheTTL everywhere else.
func TestMadeUpWorkspaceIDsCostNoStatements(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		var skew atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		h := newHarness(t, dialect, withSignup, withConfig(func(c *Config) { c.Now = clock }))
		a := h.register("a@example.com", "a-password-1")
		b := h.register("b@example.com", "b-password-1")
		me := func(ws string) resp {
			return h.do("GET", "/auth/me", nil, append(bearerH(b.AccessToken), "X-Workspace-ID", ws)...)
		}
		me("") // warm: user, session and memberships cached
		before := h.store.Stats().Statements
		const flood = 200
		for range flood {
			if r := me(uuid.NewString()); r.status != http.StatusForbidden {
				t.Fatalf("made-up workspace: %d %s", r.status, r.body)
			}
		}
		if r := me(a.User.WorkspaceID); r.status != http.StatusForbidden {
			t.Fatalf("another's workspace: %d %s", r.status, r.body)
		}
		if n := h.store.Stats().Statements - before; n > 1 {
			t.Fatalf("%d made-up workspace ids sent %d statements, want at most 1", flood, n)
		}

		// b joins a's workspace behind this Service's back (another
		// process): refused until the cache expires, then let in.
		if _, err := h.store.SaveEntity(context.Background(), "fake_members",
			db.Entity{"workspace_id": a.User.WorkspaceID, "user_id": b.User.ID, "role": "member"}); err != nil {
			t.Fatal(err)
		}
		if r := me(a.User.WorkspaceID); r.status != http.StatusForbidden {
			t.Fatalf("membership of another process, before the TTL: %d %s", r.status, r.body)
		}
		skew.Add(int64(MembershipCacheTTL))
		if r := me(a.User.WorkspaceID); r.status != http.StatusOK {
			t.Fatalf("membership of another process, after the TTL: %d %s", r.status, r.body)
		}

		// A membership this process adds counts at once.
		c := h.register("c@example.com", "c-password-1")
		if r := h.do("GET", "/auth/me", nil, append(bearerH(c.AccessToken), "X-Workspace-ID", a.User.WorkspaceID)...); r.status != http.StatusForbidden {
			t.Fatalf("before joining: %d %s", r.status, r.body) // and c's memberships are cached
		}
		if _, err := h.store.SaveEntity(context.Background(), "fake_members",
			db.Entity{"workspace_id": a.User.WorkspaceID, "user_id": c.User.ID, "role": "member"}); err != nil {
			t.Fatal(err)
		}
		h.auth.ForgetMemberships(c.User.ID)
		if r := h.do("GET", "/auth/me", nil, append(bearerH(c.AccessToken), "X-Workspace-ID", a.User.WorkspaceID)...); r.status != http.StatusOK {
			t.Fatalf("membership after ForgetMemberships: %d %s", r.status, r.body)
		}
	})
}
