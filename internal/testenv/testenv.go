// Package testenv gives tests the addresses of the services they need.
//
// Each getter reads one APPKERNEL_TEST_* variable. When it is unset the test
// is skipped with one line naming the variable, unless
// APPKERNEL_TEST_REQUIRE_SERVICES=1 is set (as .ci/run does), in which case
// the test fails instead.
package testenv

import (
	"os"
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
	t.Skipf("%s not available: set %s to run this test", service, name)
	return ""
}
