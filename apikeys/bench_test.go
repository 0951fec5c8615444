package apikeys_test

import (
	"context"
	"testing"

	"appkernel/apikeys"
	"appkernel/db"
)

// BenchmarkVerifyKey is the verification of a key whose lookup is cached:
// checksum, hash, cache, expiry, last-used note.
func BenchmarkVerifyKey(b *testing.B) {
	store, err := db.Open(context.Background(), "sqlite://:memory:")
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	s, err := apikeys.New(context.Background(), apikeys.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := s.Create(context.Background(), apikeys.Params{UserID: "u1", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.VerifyKey(ctx, c.Secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.VerifyKey(ctx, c.Secret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWellFormed is the checksum check alone.
func BenchmarkWellFormed(b *testing.B) {
	k := apikeys.KeyPrefix + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	b.ReportAllocs()
	for b.Loop() {
		apikeys.WellFormed(k)
	}
}
