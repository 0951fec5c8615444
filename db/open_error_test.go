package db_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/internal/testenv"
)

// withUser returns base with user (and password, when pass is not "").
func withUser(t *testing.T, base, user, pass string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if pass == "" {
		u.User = url.User(user)
	} else {
		u.User = url.UserPassword(user, pass)
	}
	return u.String()
}

// withDatabase returns base naming the database name.
func withDatabase(t *testing.T, base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open says why it could not open a database, and what to do, on every
// dialect: each failure is its own sentinel, with its own explanation, and
// only a server that does not answer is a timeout.
func TestOpenSaysWhatHappened(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused, silent := testenv.ClosedPort(t), testenv.SilentServer(t)
	type tc struct {
		name, url string
		reason    error
		says      []string // words the message must hold
	}
	cases := []tc{
		{"sqlite folder not writable", "sqlite:///" + file + "/sub/app.db", db.ErrNotWritable, []string{"not writable", "folder"}},
		{"sqlite malformed query", "sqlite:///./x.db?a=%zz", db.ErrMalformedURL, []string{"sqlite:///./relative.db", "mysql://user:pass@host:3306/name"}},
		{"unknown scheme", "oracle://scott:tiger@host/db", db.ErrMalformedURL, []string{"oracle", "postgres://"}},
		{"postgres malformed", "postgres://app:hunter2@host:notaport/db", db.ErrMalformedURL, []string{"postgres://user:pass@host:5432/name"}},
		{"mysql without a database", "mysql://app:hunter2@host:3306/", db.ErrMalformedURL, []string{"names no database"}},
		{"postgres refused", "postgres://app:hunter2@" + refused + "/app?sslmode=disable", db.ErrConnectionRefused, []string{refused, "start the database"}},
		{"mysql refused", "mysql://app:hunter2@" + refused + "/app", db.ErrConnectionRefused, []string{refused, "start the database"}},
		{"postgres unknown host", "postgres://app:hunter2@nonexistent.invalid:5432/app?sslmode=disable", db.ErrUnknownHost, []string{"nonexistent.invalid", "does not resolve"}},
		{"mysql unknown host", "mysql://app:hunter2@nonexistent.invalid:3306/app", db.ErrUnknownHost, []string{"nonexistent.invalid", "does not resolve"}},
		{"postgres silent", "postgres://app:hunter2@" + silent + "/app?sslmode=disable", db.ErrTimeout, []string{"does not answer"}},
		{"mysql silent", "mysql://app:hunter2@" + silent + "/app", db.ErrTimeout, []string{"does not answer"}},
	}
	if os.Getenv(testenv.PostgresVar) != "" || testenv.Required() {
		pg := testenv.PostgresURL(t)
		cases = append(cases,
			// The test server trusts every local user: a wrong password
			// cannot be tried, a user that does not exist can.
			tc{"postgres unknown user", withUser(t, pg, "no_such_user_ak", ""), db.ErrAuthFailed, []string{"no_such_user_ak", "password"}},
			tc{"postgres missing database", withDatabase(t, pg, "ak_no_such_db"), db.ErrNoDatabase, []string{"createdb", "ak_no_such_db", "CREATE DATABASE"}},
		)
	}
	if os.Getenv(testenv.MySQLVar) != "" || testenv.Required() {
		my := testenv.MySQLURL(t)
		cases = append(cases,
			tc{"mysql unknown user", withUser(t, my, "no_such_user_ak", "x"), db.ErrAuthFailed, []string{"no_such_user_ak", "password"}},
			tc{"mysql wrong password", withUser(t, my, "root", "wrong-password"), db.ErrAuthFailed, []string{"root", "password"}},
			tc{"mysql missing database", withDatabase(t, my, "ak_no_such_db"), db.ErrNoDatabase, []string{"CREATE DATABASE", "ak_no_such_db"}},
		)
	}
	reasons := []error{db.ErrMalformedURL, db.ErrUnknownHost, db.ErrConnectionRefused, db.ErrAuthFailed, db.ErrNoDatabase, db.ErrNotWritable, db.ErrTimeout}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			s, err := db.Open(ctx, c.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			var oe *db.OpenError
			if !errors.As(err, &oe) || !errors.Is(err, c.reason) {
				t.Fatalf("error %q: want an *OpenError matching %v", err, c.reason)
			}
			for _, r := range reasons {
				if r != c.reason && errors.Is(err, r) {
					t.Errorf("error %q also matches %v", err, r)
				}
			}
			for _, w := range c.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "tiger") || strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error %q shows the password", err)
			}
			t.Log(err)
			if c.reason != db.ErrTimeout && time.Since(start) > time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}
