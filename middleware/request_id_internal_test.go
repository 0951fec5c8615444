package middleware

import (
	"regexp"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestPutUUID checks the text form, that every random digit position takes
// many values (a wrong shift would freeze some), and that 200,000 IDs are
// distinct.
func TestPutUUID(t *testing.T) {
	const n = 200_000
	seen := make(map[[36]byte]struct{}, n)
	var digits [36]map[byte]bool
	for i := range digits {
		digits[i] = map[byte]bool{}
	}
	for range n {
		var b [36]byte
		putUUID(&b)
		if !uuidV4.Match(b[:]) {
			t.Fatalf("%s is not a version 4 UUID", b[:])
		}
		if _, dup := seen[b]; dup {
			t.Fatalf("duplicate %s", b[:])
		}
		seen[b] = struct{}{}
		for i, c := range b {
			digits[i][c] = true
		}
	}
	for i, d := range digits {
		want := 16
		switch i {
		case 8, 13, 18, 23, 14: // dashes, version
			want = 1
		case 19: // variant
			want = 4
		}
		if len(d) != want {
			t.Errorf("position %d took %d distinct values, want %d", i, len(d), want)
		}
	}
}
