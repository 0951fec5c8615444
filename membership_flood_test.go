package appkernel_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
	"appkernel/workspaces"
)

// floodWorkspaceIDs sends n requests from c, each naming a new made-up
// X-Workspace-ID, and returns how many statements the database ran for
// them; every answer must be want.
func floodWorkspaceIDs(t *testing.T, tk *kerneltest.Kernel, c *kerneltest.Client, n, want int) int64 {
	t.Helper()
	before := tk.DB().Stats().Statements
	for range n {
		c.Header = http.Header{"X-Workspace-Id": {uuid.NewString()}}
		if r := c.Get(t, "/auth/me"); r.Status != want {
			t.Fatalf("made-up workspace: %d %s, want %d", r.Status, r.Body, want)
		}
	}
	c.Header = nil
	return tk.DB().Stats().Statements - before
}

// TestWorkspaceIDFloodCostsNoStatements: a signed-in client naming a new
// made-up X-Workspace-ID on every request costs the database nothing per
// request, and a membership the kernel adds afterwards counts at once.
func TestWorkspaceIDFloodCostsNoStatements(t *testing.T) {
	tk := kerneltest.New(t, nil)
	owner, mallory := tk.User(t, "owner@example.com"), tk.User(t, "mallory@example.com")
	mallory.Get(t, "/auth/me").Expect(t, 200) // warm
	if n := floodWorkspaceIDs(t, tk, mallory, 200, 403); n > 1 {
		t.Fatalf("200 made-up workspace ids ran %d statements, want at most 1", n)
	}
	team, err := tk.Workspaces().Create(context.Background(), owner.UserID, "team")
	if err != nil {
		t.Fatal(err)
	}
	mallory.Header = http.Header{"X-Workspace-Id": {team.ID}}
	mallory.Get(t, "/auth/me").Expect(t, 403)
	if _, err := tk.Workspaces().AddMember(context.Background(), team.ID, mallory.UserID, workspaces.RoleMember); err != nil {
		t.Fatal(err)
	}
	var me struct {
		WorkspaceID string `json:"workspace_id"`
	}
	mallory.Get(t, "/auth/me").Expect(t, 200).JSON(t, &me)
	if me.WorkspaceID != team.ID {
		t.Fatalf("current workspace %q, want %q", me.WorkspaceID, team.ID)
	}
}

// TestWorkspaceIDFloodWhileRateLimited: the same flood once the rate
// limit is spent answers 429 and still runs no statement per request.
func TestWorkspaceIDFloodWhileRateLimited(t *testing.T) {
	url := testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.Name = "flood_" + uuid.NewString()[:8] // rate limits of this run only
		c.RedisURL = url
		c.RateLimitRequests = 3
	}})
	mallory := tk.User(t, "mallory@example.com")
	// A refused X-Workspace-ID leaves the request anonymous, limited by
	// its IP: spend that budget too.
	mallory.Header = http.Header{"X-Workspace-Id": {uuid.NewString()}}
	for i := 0; mallory.Get(t, "/auth/me").Status != http.StatusTooManyRequests; i++ {
		if i == 10 {
			t.Fatal("no 429 after 10 requests with a limit of 3")
		}
	}
	if n := floodWorkspaceIDs(t, tk, mallory, 200, 429); n > 1 {
		t.Fatalf("200 rate-limited requests with made-up workspace ids ran %d statements, want at most 1", n)
	}
}
