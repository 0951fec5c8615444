package db_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appkernel/db"
)

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	abs := filepath.Join(dir, "a", "b", "abs.db")
	s, err := db.Open(ctx, "sqlite:///"+abs) // sqlite:////abs/path
	if err != nil {
		t.Fatal(err)
	}
	if s.Dialect() != db.SQLite {
		t.Errorf("Dialect = %q", s.Dialect())
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	s.Close()
	if _, err := os.Stat(abs); err != nil {
		t.Errorf("absolute path not created: %v", err)
	}

	t.Chdir(dir)
	s, err = db.Open(ctx, "sqlite:///./rel/dir/app.db")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "rel", "dir", "app.db")); err != nil {
		t.Errorf("relative path not created: %v", err)
	}

	for _, bad := range []string{
		"oracle://scott:tiger@host/db",
		"not a url",
		"mysql://user:hunter2@host:3306/",
		"postgres://user:hunter2@host:notaport/db",
	} {
		_, err := db.Open(ctx, bad)
		if err == nil {
			t.Errorf("Open(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "tiger") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error leaks the password: %v", bad, err)
		}
	}
	if _, err := db.OpenConfig(ctx, db.Config{URL: "sqlite://:memory:", MaxLimit: -1}); err == nil || !strings.Contains(err.Error(), "MaxLimit") {
		t.Errorf("negative MaxLimit: %v", err)
	}
}

func TestMaxLimit(t *testing.T) {
	ctx := context.Background()
	s, err := db.OpenConfig(ctx, db.Config{URL: "sqlite://:memory:", MaxLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.FindEntities(ctx, "x", db.Query{Limit: 5}); err != nil {
		t.Errorf("Limit at the maximum: %v", err)
	}
	if _, err := s.FindEntities(ctx, "x", db.Query{Limit: 6}); err == nil {
		t.Error("Limit above the maximum accepted")
	}
}
