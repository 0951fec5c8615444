package testenv

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// skips tallies, for Main's summary, the tests this process skipped for
// want of a service, by variable. It is the one piece of package state in
// the kernel: the testing package tells TestMain nothing about which tests
// skipped or why, so the getters above record it as they skip, and a test
// binary is one package's tests.
var skips = struct {
	sync.Mutex
	tests map[string]map[string]bool // variable → names of the tests that skipped
}{tests: map[string]map[string]bool{}}

func recordSkip(variable, test string) {
	skips.Lock()
	defer skips.Unlock()
	if skips.tests[variable] == nil {
		skips.tests[variable] = map[string]bool{}
	}
	skips.tests[variable][test] = true
}

// Main is the TestMain of a package with service tests:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// It runs the tests and, when some skipped for want of a service, prints
// one line saying how many and which variables to set, e.g.
//
//	ok-with-skips appkernel/db: 58 tests skipped: set APPKERNEL_TEST_POSTGRES_URL (29), APPKERNEL_TEST_MYSQL_URL (29) to run them
//
// With -v (and -json) the line goes to os.Stderr, which the go command
// shows. Without -v, `go test ./...` discards everything a passing package
// prints (only its "ok" line is shown), so the line goes to the stderr of
// the parent process, the go command itself, where it is seen (on Linux;
// elsewhere to os.Stderr). A cached result prints nothing: no test ran.
func Main(m *testing.M) {
	code := m.Run()
	if line := skipSummary(callerPackage()); line != "" {
		if f := parentStderr(); f != nil && !testing.Verbose() {
			fmt.Fprintln(f, line)
			f.Close()
		} else {
			fmt.Fprintln(os.Stderr, line)
		}
	}
	os.Exit(code)
}

// skipSummary is the line Main prints for pkg, or "" when nothing skipped.
func skipSummary(pkg string) string {
	skips.Lock()
	defer skips.Unlock()
	all := map[string]bool{}
	var vars []string
	for v, tests := range skips.tests {
		vars = append(vars, v)
		for name := range tests {
			all[name] = true
		}
	}
	if len(all) == 0 {
		return ""
	}
	// The order of the README: Postgres, MySQL, Redis.
	order := []string{PostgresVar, MySQLVar, RedisVar}
	slices.SortFunc(vars, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	parts := make([]string, len(vars))
	for i, v := range vars {
		parts[i] = fmt.Sprintf("%s (%d)", v, len(skips.tests[v]))
	}
	noun := "tests"
	if len(all) == 1 {
		noun = "test"
	}
	return fmt.Sprintf("ok-with-skips %s: %d %s skipped: set %s to run them", pkg, len(all), noun, strings.Join(parts, ", "))
}

// callerPackage is the import path of the package whose TestMain called Main.
func callerPackage() string {
	pc, _, _, ok := runtime.Caller(2)
	if !ok {
		return "?"
	}
	name := runtime.FuncForPC(pc).Name() // appkernel/db_test.TestMain
	slash := strings.LastIndexByte(name, '/')
	if dot := strings.IndexByte(name[slash+1:], '.'); dot >= 0 {
		name = name[:slash+1+dot]
	}
	return strings.TrimSuffix(name, "_test")
}
