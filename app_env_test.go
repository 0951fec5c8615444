package appkernel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// APP_ENV is development (unset), test or production; anything else refuses
// to start, naming the accepted values. Only development and test run with
// the public development secret or one shorter than 32 bytes: before this
// rule, APP_ENV=prod was not "production" and ran with the default secret.
func TestAppEnvAndJWTSecret(t *testing.T) {
	strong := strings.Repeat("k", 32)
	secrets := map[string]string{"unset": "", "default": DefaultJWTSecret, "short": "thirty-one-bytes-are-not-enough", "strong": strong}
	cases := []struct {
		env      string // "-" leaves APP_ENV unset
		accepted []string
		want     string // in the error of a refused secret or env
	}{
		{"-", []string{"unset", "default", "short", "strong"}, ""},
		{"", []string{"unset", "default", "short", "strong"}, ""},
		{"development", []string{"unset", "default", "short", "strong"}, ""},
		{"test", []string{"unset", "default", "short", "strong"}, ""},
		{"TEST", []string{"unset", "default", "short", "strong"}, ""},
		{"production", []string{"strong"}, "JWT_SECRET"},
		{"Production", []string{"strong"}, "JWT_SECRET"},
		{"prod", nil, "want development, test or production"},
		{"staging", nil, "want development, test or production"},
		{"dev", nil, "want development, test or production"},
	}
	for _, tc := range cases {
		for name, secret := range secrets {
			env := map[string]string{}
			if tc.env != "-" {
				env["APP_ENV"] = tc.env
			}
			if secret != "" {
				env["JWT_SECRET"] = secret
			}
			c, err := configFromLookup(lookupFrom(env))
			ok := false
			for _, a := range tc.accepted {
				ok = ok || a == name
			}
			wantEnv := strings.ToLower(tc.env)
			if tc.env == "-" || tc.env == "" {
				wantEnv = EnvDevelopment
			}
			switch {
			case ok && err != nil:
				t.Errorf("APP_ENV=%q, %s secret: refused: %v", tc.env, name, err)
			case ok && c.Env != wantEnv:
				t.Errorf("APP_ENV=%q: Env is %q, want %q", tc.env, c.Env, wantEnv)
			case !ok && err == nil:
				t.Errorf("APP_ENV=%q, %s secret: accepted", tc.env, name)
			case !ok && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("APP_ENV=%q, %s secret: error %q, want it to wrap ErrConfig and say %q", tc.env, name, err, tc.want)
			case !ok && strings.Contains(err.Error(), secret) && secret != "":
				t.Errorf("APP_ENV=%q: the error shows the secret: %v", tc.env, err)
			}
		}
	}
}

// New checks Env and the secret as ConfigFromEnv does, for a Config built
// in Go.
func TestNewChecksEnv(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		env, secret, want string
	}{
		{"prod", strings.Repeat("k", 32), "APP_ENV"},
		{"production", "", "JWT_SECRET"},
		{"production", DefaultJWTSecret, "JWT_SECRET"},
		{"production", "short", "JWT_SECRET"},
		{"test", "", ""},
		{"", DefaultJWTSecret, ""},
		{"production", strings.Repeat("k", 32), ""},
	} {
		cfg := Config{
			Env:                 tc.env,
			JWTSecret:           tc.secret,
			DatabaseURL:         "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db")),
			DisableDevAutostart: true,
			Logger:              quiet,
		}
		k, err := New(context.Background(), cfg)
		if err == nil {
			k.Close()
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Env %q, secret %q: %v", tc.env, tc.secret, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Env %q, secret %q: error %v, want one naming %s", tc.env, tc.secret, err, tc.want)
		}
	}
}
