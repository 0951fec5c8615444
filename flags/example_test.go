package flags_test

import (
	"context"
	"fmt"

	"appkernel/db"
	"appkernel/flags"
)

// A Service outside a kernel (inside one, use Kernel.Flags): set a flag,
// then evaluate it in memory.
func Example() {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		panic(err)
	}
	defer store.Close()
	svc, err := flags.New(ctx, flags.Config{Store: store}) // Redis: rdb for instant refresh
	if err != nil {
		panic(err)
	}
	defer svc.Close()

	err = svc.Set(ctx, "checkout.v2", flags.Flag{
		Enabled:        true,
		RolloutPercent: 0, // nobody else yet
		Users:          []string{"user-1"},
		Workspaces:     []string{"ws-beta"},
	})
	fmt.Println(err)
	fmt.Println(svc.Enabled("checkout.v2", flags.For{UserID: "user-1"}))
	fmt.Println(svc.Enabled("checkout.v2", flags.For{UserID: "user-2", WorkspaceID: "ws-beta"}))
	fmt.Println(svc.Enabled("checkout.v2", flags.For{UserID: "user-2"}))
	fmt.Println(svc.Enabled("no.such.flag", flags.For{UserID: "user-1"}))
	// Output:
	// <nil>
	// true
	// true
	// false
	// false
}
