package appkernel_test

import (
	"strings"
	"testing"

	"appkernel/kerneltest"
)

// An invite token in the path never reaches the access log, whoever answers
// the request: RequireUser (no token), the router (another method) or the
// join handler.
func TestInviteTokenInPathIsNeverLogged(t *testing.T) {
	tk := kerneltest.New(t, nil)
	const token = "inv_SECRETsecretSECRETsecret0123456789"
	anon := tk.Client()
	anon.Post(t, "/workspaces/join/"+token, nil).Expect(t, 401)
	anon.Get(t, "/workspaces/join/"+token)
	u := tk.User(t, "joiner@example.com")
	u.Post(t, "/workspaces/join/"+token, nil)
	u.Get(t, "/workspaces/join/"+token)
	u.Delete(t, "/workspaces/join/"+token)
	logs := tk.Logs.String()
	if strings.Contains(logs, "SECRETsecret") {
		t.Fatalf("the token is in the logs:\n%s", logs)
	}
	if n := strings.Count(logs, `"path":"/workspaces/join/[redacted]"`); n != 5 {
		t.Fatalf("%d redacted access lines, want 5:\n%s", n, logs)
	}
}
