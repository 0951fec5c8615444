package flags_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/flags"
)

func TestSetGetListDelete(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		store := open(t, storeURL(t, dialect))

		if on, err := flags.Enabled(ctx, store, "never.set", flags.For{UserID: "u1"}); err != nil || on {
			t.Fatalf("unknown flag before any table: %v, %v; want false, nil", on, err)
		}
		if list, err := flags.List(ctx, store); err != nil || len(list) != 0 {
			t.Fatalf("List of an empty store: %v, %v", list, err)
		}
		want := flags.Flag{Enabled: true, RolloutPercent: 30, Users: []string{"u2", "u1", "u1"}, Workspaces: []string{"w1"}}
		if err := flags.Set(ctx, store, "checkout.v2", want); err != nil {
			t.Fatal(err)
		}
		if err := flags.Set(ctx, store, "beta", flags.Flag{}); err != nil {
			t.Fatal(err)
		}
		got, err := flags.Get(ctx, store, "checkout.v2")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "checkout.v2" || !got.Enabled || got.RolloutPercent != 30 ||
			!slices.Equal(got.Users, []string{"u1", "u2"}) || !slices.Equal(got.Workspaces, []string{"w1"}) || got.UpdatedAt.IsZero() {
			t.Fatalf("Get = %+v", got)
		}
		list, err := flags.List(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Name != "beta" || list[1].Name != "checkout.v2" {
			t.Fatalf("List = %+v, want beta then checkout.v2", list)
		}
		if list[0].Users == nil || list[0].Workspaces == nil {
			t.Fatalf("empty lists read back as nil: %+v", list[0])
		}
		if on, err := flags.Enabled(ctx, store, "checkout.v2", flags.For{UserID: "u2"}); err != nil || !on {
			t.Fatalf("listed user: %v, %v", on, err)
		}

		// Set replaces the whole flag, in place.
		if err := flags.Set(ctx, store, "checkout.v2", flags.Flag{Enabled: false, RolloutPercent: 100}); err != nil {
			t.Fatal(err)
		}
		got, _ = flags.Get(ctx, store, "checkout.v2")
		if got.Enabled || got.RolloutPercent != 100 || len(got.Users) != 0 {
			t.Fatalf("after the second Set: %+v", got)
		}
		if n, err := store.CountEntities(ctx, "flags", "[name] = ?", "checkout.v2"); err != nil || n != 1 {
			t.Fatalf("rows named checkout.v2: %d, %v", n, err)
		}
		if on, _ := flags.Enabled(ctx, store, "checkout.v2", flags.For{UserID: "u2"}); on {
			t.Fatal("a disabled flag is true for a user it listed before")
		}

		if err := flags.Delete(ctx, store, "checkout.v2"); err != nil {
			t.Fatal(err)
		}
		if err := flags.Delete(ctx, store, "checkout.v2"); !errors.Is(err, flags.ErrNotFound) {
			t.Fatalf("second Delete: %v, want ErrNotFound", err)
		}
		if _, err := flags.Get(ctx, store, "checkout.v2"); !errors.Is(err, flags.ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
		// The name is free again, and the history of the changes stays.
		if err := flags.Set(ctx, store, "checkout.v2", flags.Flag{Enabled: true}); err != nil {
			t.Fatalf("Set after Delete: %v", err)
		}
		f, _ := flags.Get(ctx, store, "checkout.v2")
		if !f.Enabled {
			t.Fatalf("after re-creating: %+v", f)
		}
	})
}

// Every change of a flag is in the store's history (flag changes are
// audit-worthy).
func TestHistoryOfAFlag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := open(t, storeURL(t, "sqlite"))
	for _, p := range []int{10, 20} {
		if err := flags.Set(ctx, store, "h", flags.Flag{Enabled: true, RolloutPercent: p}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := store.FindEntities(ctx, "flags", db.Query{Where: "[name] = ?", Params: []any{"h"}})
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows: %v, %v", rows, err)
	}
	h, err := store.History(ctx, "flags", rows[0]["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 {
		t.Fatalf("history has %d entries, want 2 (create, update)", len(h))
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := open(t, storeURL(t, "sqlite"))
	long := strings.Repeat("a", 65)
	many := make([]string, flags.MaxTargets+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	for _, c := range []struct {
		name string
		f    flags.Flag
	}{
		{"", flags.Flag{}},
		{"Upper", flags.Flag{}},
		{"_lead", flags.Flag{}},
		{"has space", flags.Flag{}},
		{"semi;colon", flags.Flag{}},
		{long, flags.Flag{}},
		{"ok", flags.Flag{RolloutPercent: -1}},
		{"ok", flags.Flag{RolloutPercent: 101}},
		{"ok", flags.Flag{Users: []string{""}}},
		{"ok", flags.Flag{Workspaces: []string{strings.Repeat("w", flags.MaxIDLen+1)}}},
		{"ok", flags.Flag{Users: many}},
	} {
		if err := flags.Set(ctx, store, c.name, c.f); !errors.Is(err, flags.ErrInvalid) {
			t.Errorf("Set(%q, %+v): %v, want ErrInvalid", c.name, c.f.RolloutPercent, err)
		}
	}
	if _, err := flags.Enabled(ctx, store, "Bad Name", flags.For{}); !errors.Is(err, flags.ErrInvalid) {
		t.Errorf("Enabled of a bad name: %v, want ErrInvalid", err)
	}
	for _, ok := range []string{"a", "0", strings.Repeat("a", 64), "billing.new-invoice:v2_b"} {
		if err := flags.Set(ctx, store, ok, flags.Flag{RolloutPercent: 100}); err != nil {
			t.Errorf("Set(%q): %v", ok, err)
		}
	}
	if list, _ := flags.List(ctx, store); len(list) != 4 {
		t.Fatalf("%d flags stored, want 4 (the invalid ones none)", len(list))
	}
}

// Concurrent first Sets of one name make one flag, on every dialect.
func TestConcurrentFirstSet(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		store := open(t, storeURL(t, dialect))
		if err := flags.Init(ctx, store); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				errs <- flags.Set(ctx, store, "race", flags.Flag{Enabled: true, RolloutPercent: i})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n, err := store.CountEntities(ctx, "flags", "[name] = ?", "race"); err != nil || n != 1 {
			t.Fatalf("rows named race: %d, %v; want 1", n, err)
		}
	})
}
