// Package dbtest holds the conformance suite of the entity store and
// helpers that give tests a fresh, isolated database.
//
// A dialect passes when Exercise passes against it:
//
//	func TestPostgres(t *testing.T) {
//		base := testenv.PostgresURL(t)
//		dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshPostgres(t, base) })
//	}
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"appkernel/db"
	"appkernel/internal/testenv"
)

// Fresh returns the URL of a new, isolated database of dialect ("sqlite",
// "postgres" or "mysql"), the servers' from the test environment (see
// testenv: without one the test skips, or fails when services are
// required).
func Fresh(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return FreshSQLite(t)
	case "postgres":
		return FreshPostgres(t, testenv.PostgresURL(t))
	case "mysql":
		return FreshMySQL(t, testenv.MySQLURL(t))
	}
	t.Fatalf("dbtest: unknown dialect %q", dialect)
	return ""
}

// NewSQLite opens a store on a new SQLite file in a temporary folder and
// closes it when the test ends.
func NewSQLite(t testing.TB) *db.Store {
	t.Helper()
	s, err := db.Open(context.Background(), FreshSQLite(t))
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// FreshSQLite returns the URL of a new SQLite file in a temporary folder.
func FreshSQLite(t testing.TB) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), "test.db")
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// FreshPostgres creates a new schema on the server of base and returns a
// URL whose tables live in it. The schema is dropped when the test ends.
func FreshPostgres(t testing.TB, base string) string {
	t.Helper()
	schema := randomName("dbtest_")
	admin, err := db.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	if _, err := admin.DB().Exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
		t.Fatalf("dbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		if a, err := db.Open(context.Background(), base); err == nil {
			a.DB().Exec(`DROP SCHEMA "` + schema + `" CASCADE`)
			a.Close()
		}
	})
	return withParam(base, "search_path", schema)
}

// FreshMySQL creates a new database on the server of base and returns its
// URL. The database is dropped when the test ends.
func FreshMySQL(t testing.TB, base string) string {
	t.Helper()
	name := randomName("dbtest_")
	admin, err := db.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	if _, err := admin.DB().Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if a, err := db.Open(context.Background(), base); err == nil {
			a.DB().Exec("DROP DATABASE `" + name + "`")
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func withParam(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		sep := "?"
		if strings.Contains(raw, "?") {
			sep = "&"
		}
		return raw + sep + key + "=" + value
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Dialects are the databases the kernel supports, as Fresh names them.
var Dialects = []string{"sqlite", "postgres", "mysql"}

// ForEachDialect runs fn as a parallel subtest per dialect, t itself
// parallel too; Postgres and MySQL skip (or fail under
// APPKERNEL_TEST_REQUIRE_SERVICES=1) when fn asks Fresh for a database
// the environment does not have.
func ForEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Parallel()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}
