package cache_test

import (
	"context"
	"fmt"
	"time"

	"appkernel/cache"
)

type Profile struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func Example() {
	ctx := context.Background()
	// NewRedis(rdb) gives the same behaviour, shared by every process.
	c := cache.NewMemory(cache.MemoryOptions{MaxEntries: 1000})

	_ = c.Set(ctx, "profile:1", Profile{ID: "1", Name: "Ada"}, time.Minute)

	var p Profile
	ok, err := c.Get(ctx, "profile:1", &p)
	fmt.Println(ok, err, p.Name)

	ok, _ = c.Get(ctx, "profile:2", &p)
	fmt.Println("profile:2 cached:", ok)
	// Output:
	// true <nil> Ada
	// profile:2 cached: false
}

func ExampleGetOrLoad() {
	ctx := context.Background()
	c := cache.NewMemory(cache.MemoryOptions{})

	loads := 0
	loadProfile := func(ctx context.Context) (Profile, error) {
		loads++ // e.g. a database query
		return Profile{ID: "7", Name: "Grace"}, nil
	}
	for range 3 {
		p, err := cache.GetOrLoad(ctx, c, "profile:7", 5*time.Minute, loadProfile)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(p.Name)
	}
	fmt.Println("loads:", loads)
	// Output:
	// Grace
	// Grace
	// Grace
	// loads: 1
}
