package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
)

// KeyPrefix starts every key the package issues. It begins with
// auth.APIKeyPrefix, so auth.Service.Authenticate hands such bearer
// tokens to the KeyVerifier.
const KeyPrefix = "sk_live_"

// Layout of a key after KeyPrefix: base32 (lowercase, unpadded) of
// secretLen random bytes followed by the big-endian CRC-32C of those bytes.
const (
	secretLen  = 32 // 256 random bits
	rawLen     = secretLen + 4
	bodyLen    = (rawLen*8 + 4) / 5 // 58 characters
	keyLen     = len(KeyPrefix) + bodyLen
	displayLen = len(KeyPrefix) + 8 // Key.Prefix: enough to tell keys apart, far from the secret
)

var (
	encoding   = base32.NewEncoding(alphabet).WithPadding(base32.NoPadding)
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// alphabet is base32's (RFC 4648) in lower case.
const alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// newKey returns a fresh random key.
func newKey() (string, error) {
	var raw [rawLen]byte
	if _, err := rand.Read(raw[:secretLen]); err != nil {
		return "", fmt.Errorf("apikeys: random key: %w", err)
	}
	binary.BigEndian.PutUint32(raw[secretLen:], crc32.Checksum(raw[:secretLen], castagnoli))
	return KeyPrefix + encoding.EncodeToString(raw[:]), nil
}

// WellFormed reports whether key has the shape of a key this package
// issues: the prefix, the length, the alphabet and a matching checksum.
// It reads nothing: a typo or a made-up key fails here, before any lookup.
// A CRC detects every change of up to 32 consecutive bits, so every
// one-character typo fails.
func WellFormed(key string) bool {
	if len(key) != keyLen || key[:len(KeyPrefix)] != KeyPrefix {
		return false
	}
	// base32 decoding by hand: encoding/base32 allocates, and this runs
	// on every request presenting a key.
	var raw [rawLen]byte
	var acc uint64
	bits, j := 0, 0
	for i := len(KeyPrefix); i < keyLen; i++ {
		v := decodeMap[key[i]]
		if v == 0xff {
			return false
		}
		acc = acc<<5 | uint64(v)
		if bits += 5; bits >= 8 {
			bits -= 8
			raw[j] = byte(acc >> bits)
			j++
		}
	}
	// The last character carries 2 bits of padding: only the canonical
	// spelling (padding bits zero) is a key, so no two texts share one.
	if acc&(1<<bits-1) != 0 {
		return false
	}
	return binary.BigEndian.Uint32(raw[secretLen:]) == crc32.Checksum(raw[:secretLen], castagnoli)
}

// decodeMap maps each character of the key alphabet to its 5-bit value,
// and every other byte to 0xff.
var decodeMap = func() (m [256]byte) {
	for i := range m {
		m[i] = 0xff
	}
	for i, c := range alphabet {
		m[c] = byte(i)
	}
	return m
}()

// hashKey is what the database holds of a key: the hex SHA-256 of its text.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
