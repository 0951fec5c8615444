package appkernel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appkernel"
	"appkernel/db"
	"appkernel/internal/testenv"
)

// urlWith returns base with its user or database changed.
func urlWith(t *testing.T, base string, change func(u *url.URL)) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	change(u)
	return u.String()
}

// A database that cannot be opened refuses the start with a message that
// names DATABASE_URL, says what happened and what to do, on every dialect;
// only a database that does not answer in time is called a timeout.
func TestNewSaysWhyTheDatabaseDoesNotOpen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := testenv.ClosedPort(t)
	silent := testenv.SilentServer(t)
	type tc struct {
		name, url string
		reason    error
		says      string
	}
	cases := []tc{
		{"sqlite folder not writable", "sqlite:///" + file + "/data/app.db", db.ErrNotWritable, "not writable"},
		{"postgres malformed", "postgres://app:hunter2@db.example:notaport/app", db.ErrMalformedURL, "the accepted forms are"},
		{"mysql malformed", "mysql://app:hunter2@db.example:3306/", db.ErrMalformedURL, "the accepted forms are"},
		{"postgres refused", "postgres://app:hunter2@" + refused + "/app?sslmode=disable", db.ErrConnectionRefused, "nothing listens at " + refused},
		{"mysql refused", "mysql://app:hunter2@" + refused + "/app", db.ErrConnectionRefused, "nothing listens at " + refused},
		{"postgres unknown host", "postgres://app:hunter2@nonexistent.invalid/app", db.ErrUnknownHost, `"nonexistent.invalid" does not resolve`},
		{"mysql unknown host", "mysql://app:hunter2@nonexistent.invalid/app", db.ErrUnknownHost, `"nonexistent.invalid" does not resolve`},
		{"postgres silent", "postgres://app:hunter2@" + silent + "/app?sslmode=disable", db.ErrTimeout, "does not answer within 300ms (Config.ConnectTimeout)"},
		{"mysql silent", "mysql://app:hunter2@" + silent + "/app", db.ErrTimeout, "does not answer within 300ms (Config.ConnectTimeout)"},
	}
	if os.Getenv(testenv.PostgresVar) != "" || testenv.Required() {
		pg := testenv.PostgresURL(t)
		cases = append(cases,
			// The test server trusts local users: a wrong password cannot
			// be tried there, a user that does not exist can.
			tc{"postgres unknown user", urlWith(t, pg, func(u *url.URL) { u.User = url.User("ak_nobody") }), db.ErrAuthFailed, "authentication failed"},
			tc{"postgres missing database", urlWith(t, pg, func(u *url.URL) { u.Path = "/ak_missing" }), db.ErrNoDatabase, "createdb"},
		)
	}
	if os.Getenv(testenv.MySQLVar) != "" || testenv.Required() {
		my := testenv.MySQLURL(t)
		cases = append(cases,
			tc{"mysql wrong password", urlWith(t, my, func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), "hunter2") }), db.ErrAuthFailed, "authentication failed"},
			tc{"mysql missing database", urlWith(t, my, func(u *url.URL) { u.Path = "/ak_missing" }), db.ErrNoDatabase, "CREATE DATABASE"},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := appkernel.DefaultConfig()
			cfg.DisableDevAutostart = true
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg.ConnectTimeout = 300 * time.Millisecond
			cfg.DatabaseURL = c.url
			k, err := appkernel.New(context.Background(), cfg)
			if err == nil {
				k.Close()
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			if !errors.Is(err, c.reason) || !strings.Contains(msg, "DATABASE_URL") || !strings.Contains(msg, c.says) {
				t.Errorf("error %q: want one matching %v that names DATABASE_URL and says %q", msg, c.reason, c.says)
			}
			if timeout := strings.Contains(msg, "ConnectTimeout") || strings.Contains(msg, "does not answer"); timeout != (c.reason == db.ErrTimeout) {
				t.Errorf("error %q: speaks of a timeout: %v, want %v", msg, timeout, c.reason == db.ErrTimeout)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}

// Config.MaxColumns (MAX_COLUMNS) is the column limit of the kernel's store.
func TestMaxColumnsReachesTheStore(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	cfg.MaxColumns = 40
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	fields := map[string]any{}
	for i := range 36 {
		fields[fmt.Sprintf("f%d", i)] = i
	}
	if _, err := k.DB().SaveEntity(ctx, "notes", fields); err != nil {
		t.Fatal(err)
	}
	if _, err := k.DB().SaveEntity(ctx, "notes", map[string]any{"c": 3}); !errors.Is(err, db.ErrInvalidQuery) || !strings.Contains(err.Error(), "limit of 40") {
		t.Fatalf("a seventh column: %v", err)
	}
}
