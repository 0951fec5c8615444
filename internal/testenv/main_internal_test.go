package testenv

import "testing"

// A package whose service tests skipped gets one line naming how many and
// which variables to set, Postgres before MySQL before Redis; a package
// where nothing skipped gets none.
func TestSkipSummary(t *testing.T) {
	if got := skipSummary("appkernel/x"); got != "" {
		t.Fatalf("nothing skipped yet, got %q", got)
	}
	t.Cleanup(func() {
		skips.Lock()
		skips.tests = map[string]map[string]bool{}
		skips.Unlock()
	})
	t.Setenv(RequireVar, "")
	t.Setenv(RedisVar, "")
	t.Setenv(PostgresVar, "")
	for _, name := range []string{"A", "B"} {
		t.Run(name, func(t *testing.T) { RedisURL(t) })
	}
	t.Run("C", func(t *testing.T) { PostgresURL(t) })
	want := "ok-with-skips appkernel/x: 3 tests skipped: set APPKERNEL_TEST_POSTGRES_URL (1), APPKERNEL_TEST_REDIS_URL (2) to run them"
	if got := skipSummary("appkernel/x"); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestCallerPackage(t *testing.T) {
	if got := func() string { return callerPackage() }(); got != "appkernel/internal/testenv" {
		t.Fatalf("callerPackage from a test of this package: %q", got)
	}
}
