package flags

import (
	"strconv"
	"testing"
)

// Unleash's published test vectors for the rollout bucket
// (normalizedValue, seed 0, normalizer 100):
//   - unleash-client-node / unleash-client-java test "normalized values are
//     the same across node, java, and go clients" (StrategyUtilsTest):
//     normalizedValue("123", "gr1") = 73, normalizedValue("999", "groupX") = 25;
//   - github.com/Unleash/client-specification,
//     specifications/03-gradual-rollout-user-id-strategy.json (groupId
//     "AB12A", 50 %: userId 122 enabled, 155 disabled) and
//     specifications/10-flexible-rollout-strategy.json (groupId = the
//     toggle's name: "Feature.flexibleRollout.10" at 10 %: 174 enabled,
//     499 disabled; "Feature.flexibleRollout.userId.55" at 55 %: 25
//     enabled; "Feature.flexibleRollout.sessionId.42" at 42 %: 147
//     enabled).
func TestBucketMatchesUnleash(t *testing.T) {
	for _, v := range []struct {
		group, id string
		want      uint32
	}{
		{"gr1", "123", 73},
		{"groupX", "999", 25},
	} {
		if got := bucket(v.group, v.id); got != v.want {
			t.Errorf("bucket(%q, %q) = %d, want %d (Unleash normalizedValue)", v.group, v.id, got, v.want)
		}
	}
	for _, v := range []struct {
		group, id string
		percent   uint32
		in        bool
	}{
		{"AB12A", "122", 50, true},
		{"AB12A", "155", 50, false},
		{"Feature.flexibleRollout.10", "174", 10, true},
		{"Feature.flexibleRollout.10", "499", 10, false},
		{"Feature.flexibleRollout.userId.55", "25", 55, true},
		{"Feature.flexibleRollout.sessionId.42", "147", 42, true},
	} {
		c := &compiled{enabled: true, percent: v.percent}
		if got := c.evaluate(v.group, For{UserID: v.id}); got != v.in {
			t.Errorf("%s at %d%% for %q: %v, want %v (Unleash client-specification); bucket %d",
				v.group, v.percent, v.id, got, v.in, bucket(v.group, v.id))
		}
	}
}

// Known answers of MurmurHash3_x86_32 (SMHasher's reference
// implementation).
func TestMurmur3KnownAnswers(t *testing.T) {
	for _, v := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"", 0xffffffff, 0x81f16f39},
		{"\x00\x00\x00\x00", 0, 0x2362f9de},
		{"aaaa", 0x9747b28c, 0x5a97808a},
		{"aaa", 0x9747b28c, 0x283e0130},
		{"aa", 0x9747b28c, 0x5d211726},
		{"a", 0x9747b28c, 0x7fa09ea6},
		{"Hello, world!", 0x9747b28c, 0x24884cba},
		{"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd},
	} {
		if got := murmur3([]byte(v.in), v.seed); got != v.want {
			t.Errorf("murmur3(%q, %#x) = %#x, want %#x", v.in, v.seed, got, v.want)
		}
	}
}

// A long id goes through the heap buffer: the same bucket as a short key
// built the plain way.
func TestBucketLongID(t *testing.T) {
	name := "a.flag"
	id := string(make([]byte, 300))
	if got, want := bucket(name, id), murmur3([]byte(name+":"+id), 0)%100+1; got != want {
		t.Fatalf("bucket of a long id = %d, want %d", got, want)
	}
}

// An id in at p stays in at every p' ≥ p; 0 % is nobody, 100 % everybody,
// and about p % of many ids are in at p.
func TestRolloutIsMonotonic(t *testing.T) {
	const n = 20000
	counts := make([]int, 101)
	for i := range n {
		id := "user-" + strconv.Itoa(i)
		in := false
		for p := 0; p <= 100; p++ {
			got := (&compiled{enabled: true, percent: uint32(p)}).evaluate("checkout.v2", For{UserID: id})
			if in && !got {
				t.Fatalf("%s is in at a lower percent but out at %d%%", id, p)
			}
			if got {
				counts[p]++
			}
			in = got
		}
	}
	if counts[0] != 0 || counts[100] != n {
		t.Fatalf("0%%: %d in, 100%%: %d in of %d", counts[0], counts[100], n)
	}
	for _, p := range []int{10, 25, 50, 90} {
		share := float64(counts[p]) / n * 100
		if share < float64(p)-2 || share > float64(p)+2 {
			t.Errorf("at %d%% %.1f%% of ids are in", p, share)
		}
	}
}

func TestEvaluateRules(t *testing.T) {
	flag := compile(Flag{Enabled: true, RolloutPercent: 0, Users: []string{"u1"}, Workspaces: []string{"w1"}})
	off := compile(Flag{Enabled: false, RolloutPercent: 100, Users: []string{"u1"}, Workspaces: []string{"w1"}})
	all := compile(Flag{Enabled: true, RolloutPercent: 100})
	half := compile(Flag{Enabled: true, RolloutPercent: 50})
	cases := []struct {
		name string
		c    *compiled
		f    For
		want bool
	}{
		{"listed user", flag, For{UserID: "u1"}, true},
		{"listed workspace", flag, For{UserID: "u9", WorkspaceID: "w1"}, true},
		{"unlisted at 0%", flag, For{UserID: "u9", WorkspaceID: "w9"}, false},
		{"disabled beats the user list", off, For{UserID: "u1"}, false},
		{"disabled beats the workspace list", off, For{WorkspaceID: "w1"}, false},
		{"disabled at 100%", off, For{UserID: "u9"}, false},
		{"unknown flag", nil, For{UserID: "u1"}, false},
		{"no one at 100%", all, For{}, true},
		{"no one at 50%", half, For{}, false},
	}
	for _, c := range cases {
		if got := c.c.evaluate("f", c.f); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Without a user the workspace's bucket decides; with one, the user's.
	var byWorkspace, byUser bool
	for i := range 200 {
		ws := "w-" + strconv.Itoa(i)
		got := half.evaluate("f", For{WorkspaceID: ws})
		if got != (bucket("f", ws) <= 50) {
			t.Fatalf("workspace %s: %v, bucket %d", ws, got, bucket("f", ws))
		}
		byWorkspace = byWorkspace || got
		u := "u-" + strconv.Itoa(i)
		got = half.evaluate("f", For{UserID: u, WorkspaceID: ws})
		if got != (bucket("f", u) <= 50) {
			t.Fatalf("user %s: %v, bucket %d", u, got, bucket("f", u))
		}
		byUser = byUser || got
	}
	if !byWorkspace || !byUser {
		t.Fatal("no id was in at 50%")
	}
}
