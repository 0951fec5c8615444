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
	encoding   = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

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
	var body [bodyLen]byte
	copy(body[:], key[len(KeyPrefix):])
	var raw [rawLen]byte
	if n, err := encoding.Decode(raw[:], body[:]); err != nil || n != rawLen {
		return false
	}
	// The last character carries 2 bits of padding: only the canonical
	// spelling (padding bits zero) is a key, so no two texts share one.
	var again [bodyLen]byte
	encoding.Encode(again[:], raw[:])
	if again != body {
		return false
	}
	return binary.BigEndian.Uint32(raw[secretLen:]) == crc32.Checksum(raw[:secretLen], castagnoli)
}

// hashKey is what the database holds of a key: the hex SHA-256 of its text.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
