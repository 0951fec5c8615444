package appkernel

import (
	"errors"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigFromEnvDefaults(t *testing.T) {
	c, err := configFromLookup(lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Fatalf("empty environment: got %+v, want DefaultConfig()", c)
	}
	d := DefaultConfig()
	if d.Name != "appkernel" || d.Env != "development" || d.DatabaseURL != "sqlite:///./data/app.db" || d.DisableDatabase ||
		d.JWTExpiry != 24*time.Hour || d.AllowSelfSignup ||
		d.DisableRateLimit || d.RateLimitRequests != 100 || d.RateLimitWindow != time.Minute ||
		d.DisableEmbeddedAdminWorker || d.DisableDevAutostart || d.DisableAuth || d.RedisURL != "" ||
		!reflect.DeepEqual(d.CORSOrigins, []string{"*"}) || d.CORSCredentials || d.MaxBodyBytes != 1<<20 ||
		d.ShutdownTimeout != 10*time.Second || d.ConnectTimeout != 10*time.Second ||
		d.DisableEmbeddedWorker || d.RedisPrefix != "" || d.Addr != ":8000" {
		t.Fatalf("defaults differ from the README: %+v", d)
	}
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":                "postgres://u:p@db:5432/app",
		"JWT_SECRET":                  strings.Repeat("s", 40),
		"JWT_EXPIRY_HOURS":            "2",
		"ALLOW_SELF_SIGNUP":           "true",
		"ADMIN_EMAIL":                 "ops@example.com",
		"ADMIN_PASSWORD":              "ops-password-1",
		"REDIS_URL":                   "redis://localhost:6379/1",
		"ADMIN_WORKER_EMBEDDED":       "false",
		"ADMIN_DB_URL":                "sqlite:///./admin.db",
		"CORS_ORIGINS":                "https://a.example, https://b.example",
		"CORS_CREDENTIALS":            "true",
		"RATE_LIMIT_ENABLED":          "false",
		"RATE_LIMIT_REQUESTS":         "7",
		"RATE_LIMIT_WINDOW":           "30",
		"GOOGLE_CLIENT_ID":            "gid",
		"GOOGLE_CLIENT_SECRET":        "gsecret",
		"GITHUB_CLIENT_ID":            "hid",
		"GITHUB_CLIENT_SECRET":        "hsecret",
		"OIDC_ISSUER_URL":             "https://idp.example.com/realms/x",
		"OIDC_CLIENT_ID":              "oid",
		"OIDC_CLIENT_SECRET":          "osecret",
		"PUBLIC_URL":                  "https://api.example.com",
		"OAUTH_REDIRECT_ORIGINS":      "https://app.example.com, http://localhost:5173",
		"DEBUG":                       "1",
		"APP_ENV":                     "production",
		"LOG_LEVEL":                   "warn",
		"TRUSTED_PROXIES":             "10.0.0.0/8,127.0.0.1",
		"DEV_AUTOSTART":               "false",
		"WORKER_CONCURRENCY":          "3",
		"MAX_COLUMNS":                 "50",
		"JOBS_WORKER_EMBEDDED":        "false",
		"REDIS_PREFIX":                "billing",
		"PORT":                        "9090",
		"METRICS_ADDR":                "127.0.0.1:9100",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
	}
	c, err := configFromLookup(lookupFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.DatabaseURL = env["DATABASE_URL"]
	want.JWTSecret = env["JWT_SECRET"]
	want.JWTExpiry = 2 * time.Hour
	want.AllowSelfSignup = true
	want.AdminEmail, want.AdminPassword = "ops@example.com", "ops-password-1"
	want.RedisURL = env["REDIS_URL"]
	want.DisableEmbeddedAdminWorker = true
	want.AdminDBURL = env["ADMIN_DB_URL"]
	want.CORSOrigins = []string{"https://a.example", "https://b.example"}
	want.CORSCredentials = true
	want.DisableRateLimit = true
	want.RateLimitRequests = 7
	want.RateLimitWindow = 30 * time.Second
	want.OAuthProviders = map[string]OAuthProvider{
		"google": {ClientID: "gid", ClientSecret: "gsecret"},
		"github": {ClientID: "hid", ClientSecret: "hsecret"},
		"oidc":   {ClientID: "oid", ClientSecret: "osecret", IssuerURL: "https://idp.example.com/realms/x"},
	}
	want.PublicURL = "https://api.example.com"
	want.OAuthRedirectOrigins = []string{"https://app.example.com", "http://localhost:5173"}
	want.Debug = true
	want.Env = "production"
	want.LogLevel = slog.LevelWarn
	want.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1"}
	want.DisableDevAutostart = true
	want.WorkerConcurrency = 3
	want.MaxColumns = 50
	want.DisableEmbeddedWorker = true
	want.RedisPrefix = "billing"
	want.Addr = ":9090"
	want.MetricsAddr = "127.0.0.1:9100"
	want.Tracing = true
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestConfigFromEnvRejectsBadValues(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string // substrings of the error
	}{
		{map[string]string{"JWT_EXPIRY_HOURS": "soon"}, []string{"JWT_EXPIRY_HOURS", `"soon"`, "positive whole number"}},
		{map[string]string{"RATE_LIMIT_REQUESTS": "-1"}, []string{"RATE_LIMIT_REQUESTS", `"-1"`}},
		{map[string]string{"MAX_COLUMNS": "many"}, []string{"MAX_COLUMNS", `"many"`}},
		{map[string]string{"RATE_LIMIT_WINDOW": "forever"}, []string{"RATE_LIMIT_WINDOW", `"forever"`, "seconds"}},
		{map[string]string{"ALLOW_SELF_SIGNUP": "maybe"}, []string{"ALLOW_SELF_SIGNUP", `"maybe"`, "true or false"}},
		{map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL", `"loud"`}},
		{map[string]string{"DATABASE_URL": "oracle://u:hunter2@h/db"}, []string{"DATABASE_URL", "oracle", "xxxxx"}},
		{map[string]string{"DATABASE_URL": "just-a-path"}, []string{"DATABASE_URL", "not a URL"}},
		{map[string]string{"REDIS_URL": "http://x"}, []string{"REDIS_URL"}},
		{map[string]string{"GOOGLE_CLIENT_ID": "only-id"}, []string{"GOOGLE_CLIENT_SECRET"}},
		{map[string]string{"OIDC_ISSUER_URL": "https://idp.example.com"}, []string{"OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"}},
		{map[string]string{"PUBLIC_URL": "api.example.com"}, []string{"PUBLIC_URL", "api.example.com"}},
		{map[string]string{"OAUTH_REDIRECT_ORIGINS": "https://app.example.com/cb"}, []string{"OAUTH_REDIRECT_ORIGINS", "/cb"}},
		{map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 40), "GOOGLE_CLIENT_ID": "i", "GOOGLE_CLIENT_SECRET": "s"}, []string{"PUBLIC_URL", "production"}},
		{map[string]string{"CORS_CREDENTIALS": "true"}, []string{"CORS_CREDENTIALS", "CORS_ORIGINS"}},
		{map[string]string{"APP_ENV": "production"}, []string{"JWT_SECRET", "production"}},
		{map[string]string{"APP_ENV": "production", "JWT_SECRET": DefaultJWTSecret}, []string{"JWT_SECRET"}},
		{map[string]string{"APP_ENV": "production", "JWT_SECRET": "short-but-not-default"}, []string{"JWT_SECRET", "32"}},
		{map[string]string{"JWT_EXPIRY_HOURS": "3000000"}, []string{"JWT_EXPIRY_HOURS", "3000000", "8760"}},
		{map[string]string{"RATE_LIMIT_WINDOW": "1ns"}, []string{"RATE_LIMIT_WINDOW", "1ms"}},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.1,bogus"}, []string{"TRUSTED_PROXIES", "bogus"}},
		{map[string]string{"CORS_ORIGINS": "foo"}, []string{"CORS_ORIGINS", "foo", "origin"}},
		{map[string]string{"CORS_ORIGINS": "https://a.example.com,*"}, []string{"CORS_ORIGINS", "*"}},
		{map[string]string{"CORS_ORIGINS": "", "CORS_CREDENTIALS": "true"}, []string{"CORS_CREDENTIALS", "CORS_ORIGINS"}},
		{map[string]string{"JOBS_WORKER_EMBEDDED": "nope"}, []string{"JOBS_WORKER_EMBEDDED", `"nope"`, "true or false"}},
		{map[string]string{"PORT": "80a"}, []string{"PORT", `"80a"`, "port number"}},
		{map[string]string{"PORT": "70000"}, []string{"PORT", "65535"}},
		{map[string]string{"REDIS_PREFIX": "a{b}"}, []string{"REDIS_PREFIX", "braces"}},
		{map[string]string{"METRICS_ADDR": "a:b:c"}, []string{"METRICS_ADDR", "a:b:c", ":9090"}},
		{map[string]string{"METRICS_ADDR": "8000"}, []string{"METRICS_ADDR", "public address"}},
	}
	for _, tc := range cases {
		_, err := configFromLookup(lookupFrom(tc.env))
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%v: error does not wrap ErrConfig: %v", tc.env, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tc.env, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}

func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db": "postgres://u:xxxxx@h:5432/db",
		"redis://:secret@h:6379/0":      "redis://:xxxxx@h:6379/0",
		"sqlite:///./data/app.db":       "sqlite:///./data/app.db",
		"mysql://root@h:3306/x":         "mysql://root@h:3306/x",
	} {
		if got := MaskURL(in); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestREADMEListsEveryVariable asks ConfigFromEnv's reader which variables
// it reads and checks that the README's configuration table has a row for
// each.
func TestREADMEListsEveryVariable(t *testing.T) {
	var asked []string
	if _, err := configFromLookup(func(name string) (string, bool) {
		asked = append(asked, name)
		return "", false
	}); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range regexp.MustCompile("`([A-Z0-9_]+)`").FindAllStringSubmatch(first, -1) {
			rows[m[1]] = true
		}
	}
	if len(asked) < 20 {
		t.Fatalf("the reader asked for only %d variables: %v", len(asked), asked)
	}
	for _, name := range asked {
		if !rows[name] {
			t.Errorf("ConfigFromEnv reads %s, but the README's configuration table has no row for it", name)
		}
	}
}

// JOBS_WORKER_EMBEDDED=true (or unset) keeps the embedded worker; false
// leaves the jobs to worker processes.
func TestJobsWorkerEmbeddedFromEnv(t *testing.T) {
	for v, disabled := range map[string]bool{"": false, "true": false, "1": false, "false": true, "off": true} {
		c, err := configFromLookup(lookupFrom(map[string]string{"JOBS_WORKER_EMBEDDED": v}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DisableEmbeddedWorker != disabled {
			t.Errorf("JOBS_WORKER_EMBEDDED=%q: DisableEmbeddedWorker %v, want %v", v, c.DisableEmbeddedWorker, disabled)
		}
	}
}

// The Redis namespace is REDIS_PREFIX, else the service's name, with one
// colon after it.
func TestRedisNamespace(t *testing.T) {
	for _, tc := range []struct{ name, prefix, want string }{
		{"", "", "appkernel:"},
		{"widget_service", "", "widget_service:"},
		{"widget_service", "shared-a", "shared-a:"},
		{"widget_service", "shared-a:", "shared-a:"},
	} {
		c := Config{Name: tc.name, RedisPrefix: tc.prefix}
		if got := c.redisNamespace(); got != tc.want {
			t.Errorf("Name %q, RedisPrefix %q: namespace %q, want %q", tc.name, tc.prefix, got, tc.want)
		}
	}
}

// METRICS_ADDR may be a bare port; tracing follows the standard OTEL_*
// variables: an endpoint turns it on, OTEL_SDK_DISABLED and
// OTEL_TRACES_EXPORTER=none keep it off.
func TestObservabilityFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		metrics string
		tracing bool
	}{
		{map[string]string{"METRICS_ADDR": "9100"}, ":9100", false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, "", true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, "", false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, "", false},
		{map[string]string{"OTEL_SERVICE_NAME": "billing"}, "", false},
	} {
		c, err := configFromLookup(lookupFrom(tc.env))
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if c.MetricsAddr != tc.metrics || c.Tracing != tc.tracing {
			t.Errorf("%v: MetricsAddr %q Tracing %v, want %q %v", tc.env, c.MetricsAddr, c.Tracing, tc.metrics, tc.tracing)
		}
	}
}
