// Package testenv gives tests the addresses of the services they need.
//
// Each getter reads one APPKERNEL_TEST_* variable. When it is unset the test
// is skipped with one line naming the variable, unless
// APPKERNEL_TEST_REQUIRE_SERVICES=1 is set (as .ci/run does), in which case
// the test fails instead.
package testenv

import (
	"net/url"
	"os"
	"strconv"
	"testing"
)

// Variable names read by this package.
const (
	PostgresVar = "APPKERNEL_TEST_POSTGRES_URL"
	MySQLVar    = "APPKERNEL_TEST_MYSQL_URL"
	RedisVar    = "APPKERNEL_TEST_REDIS_URL"
	RequireVar  = "APPKERNEL_TEST_REQUIRE_SERVICES"
)

// PostgresURL returns the test PostgreSQL URL, or skips (or fails) t.
func PostgresURL(t testing.TB) string { return lookup(t, PostgresVar, "PostgreSQL") }

// MySQLURL returns the test MySQL/MariaDB URL, or skips (or fails) t.
func MySQLURL(t testing.TB) string { return lookup(t, MySQLVar, "MySQL") }

// RedisURL returns the test Redis URL, or skips (or fails) t.
func RedisURL(t testing.TB) string { return lookup(t, RedisVar, "Redis") }

// Required reports whether missing services fail tests instead of skipping them.
func Required() bool { return os.Getenv(RequireVar) == "1" }

func lookup(t testing.TB, name, service string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if Required() {
		t.Fatalf("%s is required (%s=1) but %s is not set", service, RequireVar, name)
	}
	recordSkip(name, t.Name())
	t.Skipf("%s not available: set %s to run this test", service, name)
	return ""
}

// Redis logical databases for tests that run a whole kernel on Redis. The
// kernel writes its keys under the service's namespace (Config.Name, or
// RedisPrefix), but kerneltest names every kernel "kerneltest", so two
// such tests in packages that `go test ./...` runs at once would still
// share one job queue, one rate-limit budget and one cache: one package's
// embedded worker would fetch the other's jobs and hold them back for want
// of a handler. Each package gets a database of its own instead (tests
// that name their kernels uniquely, and every other test, use the URL's
// database under a key prefix of their own).
const (
	RedisDBKernel  = 14 // package appkernel
	RedisDBWidgets = 15 // examples/widgets
)

// RedisURLOnDB is RedisURL with its database number replaced by db.
func RedisURLOnDB(t testing.TB, db int) string {
	t.Helper()
	raw := RedisURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", RedisVar, err)
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}
