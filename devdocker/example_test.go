package devdocker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"appkernel/devdocker"
)

// The kernel calls Ensure with its database and Redis URLs before it opens
// them. Remote and SQLite URLs are never touched, so this starts nothing.
func ExampleEnsure() {
	ctx := context.Background()
	opts := devdocker.Options{
		Enabled: os.Getenv("DEV_AUTOSTART") != "false" && os.Getenv("APP_ENV") != "production",
		Logger:  slog.New(slog.NewTextHandler(os.Stdout, nil)),
	}
	started, err := devdocker.Ensure(ctx, opts,
		"sqlite:///./data/app.db",                // DATABASE_URL
		"redis://:secret@cache.example.com:6379", // REDIS_URL
	)
	fmt.Println(len(started), err)
	// Output:
	// 0 <nil>
}

// Without a working Docker, Ensure says why in one INFO line and returns no
// error: the service then reports its usual connection error. The password
// of the URL shows nowhere.
func ExampleEnsure_withoutDocker() {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	opts := devdocker.Options{
		Enabled: true,
		Docker:  "/nonexistent/docker",
		Logger:  slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})),
	}
	// Nothing listens on port 1.
	started, err := devdocker.Ensure(context.Background(), opts, "postgres://app:secret@127.0.0.1:1/app")
	fmt.Println(len(started), err)
	// Output:
	// level=INFO msg="dev auto-start: nothing started, docker is not available" reason="docker CLI \"/nonexistent/docker\" not found: exec: \"/nonexistent/docker\": stat /nonexistent/docker: no such file or directory" not_answering="PostgreSQL at 127.0.0.1:1"
	// 0 <nil>
}
