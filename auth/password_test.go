package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testArgon2 are cheap parameters for tests (Config.Insecure); one test
// below runs the production defaults.
var testArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func newTestHasher(t *testing.T, p Argon2Params, n int) *hasher {
	t.Helper()
	h, err := newHasher(p.withDefaults(), n)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var phcRe = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashDefaultsArePHCAndVerify(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, Argon2Params{}, 1) // the production defaults
	ctx := context.Background()
	enc, err := h.hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	m := phcRe.FindStringSubmatch(enc)
	if m == nil {
		t.Fatalf("hash %q is not an argon2id PHC string", enc)
	}
	if m[1] != "19456" || m[2] != "2" || m[3] != "1" {
		t.Fatalf("default params m=%s t=%s p=%s, want m=19456 t=2 p=1", m[1], m[2], m[3])
	}
	ok, rehash, err := h.verify(ctx, "correct horse battery", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("verify right password = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, _, err = h.verify(ctx, "correct horse batterY", enc)
	if err != nil || ok {
		t.Fatalf("verify wrong password = %v, %v; want false, nil", ok, err)
	}
	enc2, _ := h.hash(ctx, "correct horse battery")
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestVerifyFlagsOutdatedParamsForRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newTestHasher(t, Argon2Params{Memory: 32, Time: 1, Threads: 1}, 1)
	cur := newTestHasher(t, Argon2Params{Memory: 64, Time: 2, Threads: 1}, 1)
	enc, err := old.hash(ctx, "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := cur.verify(ctx, "hunter2hunter2", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("verify old-params hash = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	ok, rehash, _ = cur.verify(ctx, "wrong-password", enc)
	if ok || rehash {
		t.Fatalf("wrong password on old hash = %v, %v; want false, false", ok, rehash)
	}
}

func TestDecodePHCRejectsMalformed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$c2hvcnQ",
	} {
		if _, _, _, err := decodePHC(s); !errors.Is(err, errBadPHC) {
			t.Errorf("decodePHC(%q) error = %v, want errBadPHC", s, err)
		}
	}
}

func TestHashingConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, testArgon2, 2)
	// Take both slots: a third hashing must wait, then give up with the context.
	h.slots <- struct{}{}
	h.slots <- struct{}{}
	done := make(chan error, 1)
	go func() {
		_, err := h.hash(context.Background(), "waiting-password")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("hash ran while every slot was taken (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	h.release()
	if err := <-done; err != nil {
		t.Fatalf("hash after a slot freed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	h.slots <- struct{}{} // full again
	if _, err := h.hash(ctx, "waiting-password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("hash with every slot taken until the deadline: %v, want ErrBusy", err)
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"1234567", false},
		{"abcdefg", false},
		{"abcdefgh", false}, // common
		{"Password123", false},
		{"QWERTYUIOP", false},
		{"tr0ub4dor", true},
		{"eight ch", true},
		{strings.Repeat("x", 1024), true},
		{strings.Repeat("x", 1025), false},
		{"ümlaut", false}, // 7 bytes? no: 7 bytes (ü is 2) → too short
		{"ümlauts!", true},
	} {
		err := checkPassword(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("checkPassword(%.20q) = %v, want ok=%v", tc.pw, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("checkPassword(%.20q) = %v, want ErrInvalidPassword", tc.pw, err)
		}
	}
}
