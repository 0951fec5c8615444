package main

import "testing"

// GET /stats exists only for the users an admin turned widgets.stats on
// for.
func TestStatsBehindFlag(t *testing.T) {
	tk := newService(t, nil)
	admin := tk.Admin(t, "admin@example.com")
	alice, bob := tk.User(t, "alice@example.com"), tk.User(t, "bob@example.com")
	alice.Post(t, "/widgets", map[string]any{"name": "gear", "color": "red"}).Expect(t, 201)
	alice.Post(t, "/widgets", map[string]any{"name": "cog"}).Expect(t, 201)

	if code := alice.Get(t, "/stats").Expect(t, 404).ErrorCode(t); code != "not_found" {
		t.Fatalf("GET /stats with the flag unset: %s", code)
	}
	admin.Do(t, "PUT", "/admin/flags/"+StatsFlag, map[string]any{"enabled": true, "users": []string{alice.UserID}}).Expect(t, 200)

	var got struct {
		Total   int            `json:"total"`
		ByColor map[string]int `json:"by_color"`
	}
	alice.Get(t, "/stats").Expect(t, 200).JSON(t, &got)
	if got.Total != 2 || got.ByColor["red"] != 1 || got.ByColor["blue"] != 1 {
		t.Fatalf("alice's stats: %+v", got)
	}
	var flagsOf map[string]bool
	alice.Get(t, "/flags").Expect(t, 200).JSON(t, &flagsOf)
	if !flagsOf[StatsFlag] {
		t.Fatalf("GET /flags for alice: %v", flagsOf)
	}
	bob.Get(t, "/stats").Expect(t, 404)

	// At 100 % everybody has it.
	admin.Do(t, "PUT", "/admin/flags/"+StatsFlag, map[string]any{"enabled": true, "rollout_percent": 100}).Expect(t, 200)
	bob.Get(t, "/stats").Expect(t, 200)
}
