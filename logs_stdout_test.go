package appkernel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appkernel"
)

// Without Config.Logger the kernel logs JSON lines on stdout (twelve-factor),
// not on stderr.
func TestDefaultLoggerWritesJSONLinesToStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()

	cfg := appkernel.DefaultConfig()
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	cfg.DisableDevAutostart = true
	k, err := appkernel.New(context.Background(), cfg)
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Close()
	_ = w.Close()
	var out bytes.Buffer
	if _, err := io.Copy(&out, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "database: on") {
		t.Fatalf("the start-up lines are not on stdout: %q", out.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("not a JSON line on stdout: %q", l)
		}
	}
}
