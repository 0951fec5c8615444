package flags_test

import (
	"context"
	"testing"

	"appkernel/flags"
)

// BenchmarkEnabled is the warm path: Service.Enabled from memory, for a
// flag at 50 % (a bucket is hashed), beside the package's Enabled, which
// reads the flag from SQLite per call.
func BenchmarkEnabled(b *testing.B) {
	ctx := context.Background()
	store := open(b, storeURL(b, "sqlite"))
	if err := flags.Set(ctx, store, "checkout.v2", flags.Flag{Enabled: true, RolloutPercent: 50, Users: []string{"vip"}}); err != nil {
		b.Fatal(err)
	}
	svc, err := flags.New(ctx, flags.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	who := flags.For{UserID: "0193a5e2-7c41-7b7e-9d1c-3f5a6b7c8d9e", WorkspaceID: "0193a5e2-7c41-7b7e-9d1c-000000000001"}

	b.Run("service", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			svc.Enabled("checkout.v2", who)
		}
	})
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := flags.Enabled(ctx, store, "checkout.v2", who); err != nil {
				b.Fatal(err)
			}
		}
	})
}
