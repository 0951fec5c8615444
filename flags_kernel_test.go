package appkernel_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"appkernel"
	"appkernel/flags"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
)

// Two instances of a service (one database, one Redis): an admin sets a
// flag on one, and a user's GET /flags on the other says so at once;
// non-admins cannot touch /admin/flags.
func TestFlagsAcrossInstances(t *testing.T) {
	dbURL := "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "shared.db"))
	redisURL := testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	name := "flags_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	start := func() *kerneltest.Kernel {
		return kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
			c.Name = name
			c.DatabaseURL = dbURL
			c.RedisURL = redisURL
		}})
	}
	a, b := start(), start()
	admin := a.Admin(t, "admin@example.com")
	user := b.User(t, "user@example.com")

	put := map[string]any{"enabled": true, "rollout_percent": 0, "users": []string{user.UserID}}
	if code := user.Do(t, "PUT", "/admin/flags/new.editor", put).Expect(t, 403).ErrorCode(t); code != "forbidden" {
		t.Fatalf("PUT by a user: %s", code)
	}
	admin.Do(t, "PUT", "/admin/flags/new.editor", put).Expect(t, 200)

	deadline := time.Now().Add(time.Second) // far below the 5 s TTL
	for {
		var got map[string]bool
		user.Get(t, "/flags").Expect(t, 200).JSON(t, &got)
		if got["new.editor"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /flags on the other instance: %v, want new.editor true within 1 s", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !b.Flags().Enabled("new.editor", flags.For{UserID: user.UserID}) {
		t.Fatal("Kernel.Flags().Enabled disagrees with GET /flags")
	}
	var list struct{ Flags []flags.Flag }
	admin.Get(t, "/admin/flags").Expect(t, 200).JSON(t, &list)
	if len(list.Flags) != 1 || list.Flags[0].Name != "new.editor" {
		t.Fatalf("GET /admin/flags: %+v", list)
	}
	admin.Delete(t, "/admin/flags/new.editor").Expect(t, 204)
}
