package devdocker

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	cases := []struct {
		raw                     string
		ok                      bool
		service, addr, user, db string
		passwordSet             bool
	}{
		{raw: "postgres://app:pw@localhost/appdb", ok: true, service: "PostgreSQL", addr: "localhost:5432", user: "app", db: "appdb", passwordSet: true},
		{raw: "postgresql://127.0.0.1:6543", ok: true, service: "PostgreSQL", addr: "127.0.0.1:6543"},
		{raw: "mysql://root@[::1]/shop", ok: true, service: "MySQL", addr: "[::1]:3306", user: "root", db: "shop"},
		{raw: "redis://LOCALHOST", ok: true, service: "Redis", addr: "LOCALHOST:6379"},
		{raw: "redis://db.internal:6379"},
		{raw: "postgres://10.0.0.5/app"},
		{raw: "postgres://localhost.example.com/app"},
		{raw: "redis://127.0.0.2:6379"},
		{raw: "postgres://localhost:0/app"},
		{raw: "postgres://localhost:70000/app"},
		{raw: "postgres:///app"},
		{raw: "sqlite:///./data/app.db"},
		{raw: "rediss://localhost:6379"},
		{raw: "  "},
		{raw: "::not a url"},
	}
	for _, c := range cases {
		got, ok := parseTarget(c.raw)
		if ok != c.ok {
			t.Errorf("parseTarget(%q) ok = %v, want %v", c.raw, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.svc.name() != c.service || got.addr() != c.addr || got.user != c.user || got.database != c.db || (got.password != "") != c.passwordSet {
			t.Errorf("parseTarget(%q) = %s %s user=%q db=%q password set %v", c.raw, got.svc.name(), got.addr(), got.user, got.database, got.password != "")
		}
	}
}

func TestMaskURL(t *testing.T) {
	cases := map[string]string{
		"postgres://app:s3cret@localhost:5432/app":                          "postgres://app:xxxxx@localhost:5432/app",
		"postgres://localhost/app?user=app&password=s3cret&sslmode=disable": "postgres://localhost/app?password=xxxxx&sslmode=disable&user=app",
		"redis://:s3cret@localhost:6379/0":                                  "redis://:xxxxx@localhost:6379/0",
		"mysql://root@localhost/app":                                        "mysql://root@localhost/app",
		"postgres://app:p%40ss%2Fs3cret@localhost/app":                      "postgres://app:xxxxx@localhost/app",
	}
	for raw, want := range cases {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := maskURL(u); got != want {
			t.Errorf("maskURL(%q) = %q, want %q", raw, got, want)
		}
		if strings.Contains(maskURL(u), "s3cret") {
			t.Errorf("maskURL(%q) leaks the password", raw)
		}
	}
}

func TestScrub(t *testing.T) {
	const pw = "p@ss/s3cret"
	in := "raw p@ss/s3cret, query p%40ss%2Fs3cret, path p@ss%2Fs3cret"
	got := scrub(in, pw)
	if strings.Contains(got, "s3cret") {
		t.Errorf("scrub left the password in %q", got)
	}
	if scrub("nothing to hide", "") != "nothing to hide" {
		t.Error("scrub with no password changed the text")
	}
}
