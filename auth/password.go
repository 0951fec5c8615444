package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters of new password hashes.
// Hashes made with other parameters still verify and are rehashed with
// these on the next successful login.
type Argon2Params struct {
	// Memory is the memory cost in KiB. Defaults to 19456 (19 MiB), the
	// floor the package accepts without Config.Insecure.
	Memory uint32
	// Time is the number of passes. Defaults to 2 (the floor).
	Time uint32
	// Threads is the degree of parallelism. Defaults to 1 (the floor).
	Threads uint8
	// SaltLen is the salt length in bytes. Defaults to 16.
	SaltLen uint32
	// KeyLen is the hash length in bytes. Defaults to 32.
	KeyLen uint32
}

// DefaultArgon2Params returns the production parameters: OWASP's argon2id
// recommendation m=19 MiB, t=2, p=1, a 16-byte salt and a 32-byte hash.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func (p Argon2Params) withDefaults() Argon2Params {
	d := DefaultArgon2Params()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// belowFloor reports whether p is weaker than DefaultArgon2Params.
func (p Argon2Params) belowFloor() bool {
	d := DefaultArgon2Params()
	return p.Memory < d.Memory || p.Time < d.Time || p.Threads < d.Threads || p.SaltLen < d.SaltLen || p.KeyLen < d.KeyLen
}

// Password length limits in bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// hasher hashes and verifies passwords in PHC format
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash), with at most cap(slots)
// hashings running at once so a login flood cannot exhaust memory.
type hasher struct {
	params Argon2Params
	slots  chan struct{}
	dummy  string // a hash of a random password, verified for unknown users
}

func newHasher(p Argon2Params, concurrency int) (*hasher, error) {
	h := &hasher{params: p, slots: make(chan struct{}, concurrency)}
	var pw [18]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, err
	}
	dummy, err := h.hash(context.Background(), base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// acquire takes a hashing slot, waiting at most until ctx ends.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting for a hashing slot: %w (%w)", ErrBusy, ctx.Err())
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns the PHC string of password under the current parameters.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.release()
	return encodePHC(p, salt, key), nil
}

// verify reports whether password matches the PHC string encoded, and
// whether encoded should be replaced by a hash under the current parameters.
func (h *hasher) verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	p, salt, key, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	h.release()
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	cur := h.params
	rehash = p.Memory != cur.Memory || p.Time != cur.Time || p.Threads != cur.Threads ||
		uint32(len(salt)) != cur.SaltLen || uint32(len(key)) != cur.KeyLen
	return true, rehash, nil
}

// verifyDummy spends the time of one verification against a hash no
// password matches, so an unknown email costs what a wrong password costs.
func (h *hasher) verifyDummy(ctx context.Context, password string) error {
	_, _, err := h.verify(ctx, password, h.dummy)
	return err
}

const (
	maxArgon2Memory = 1 << 21 // KiB: 2 GiB
	maxArgon2Time   = 64
)

var errBadPHC = errors.New("auth: malformed argon2id PHC string")

func encodePHC(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadPHC
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", errBadPHC, parts[2])
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			return p, nil, nil, errBadPHC
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil || n == 0 {
			return p, nil, nil, errBadPHC
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, errBadPHC
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, errBadPHC
		}
	}
	// A stored hash is trusted data, but absurd costs would turn one login
	// into a denial of service, so they are refused.
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > maxArgon2Memory || p.Time > maxArgon2Time {
		return p, nil, nil, errBadPHC
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) == 0 {
		return p, nil, nil, errBadPHC
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, errBadPHC
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// checkPassword enforces the password rules: 8 to 1024 bytes, not one of
// the most common passwords. There are no composition rules.
func checkPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return withMsg(ErrInvalidPassword, fmt.Sprintf("password must be at least %d bytes", MinPasswordLen))
	case len(pw) > MaxPasswordLen:
		return withMsg(ErrInvalidPassword, fmt.Sprintf("password must be at most %d bytes", MaxPasswordLen))
	case isCommonPassword(pw):
		return withMsg(ErrInvalidPassword, "password is too common, choose another")
	}
	return nil
}
