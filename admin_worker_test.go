package appkernel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"appkernel"
	"appkernel/admin"
	"appkernel/db"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
)

// adminRequests is the month's request count of user in the admin
// database, 0 when there is none.
func adminRequests(t *testing.T, store *db.Store, user string) int64 {
	t.Helper()
	q := "SELECT value FROM usage_aggregates WHERE user_id = ? AND metric = 'requests' AND period = '2026-12'"
	if store.Dialect() == db.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	var v int64
	if err := store.DB().QueryRow(q, user).Scan(&v); err != nil && !strings.Contains(err.Error(), "no rows") {
		t.Fatal(err)
	}
	return v
}

func emitRequests(sink admin.Sink, user string, n int) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		sink.Emit(admin.Event{ID: uuid.NewString(), Kind: admin.KindRequest, App: "svc", Time: at, UserID: user})
	}
}

func waitAdmin(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Without Redis the admin plane is on with SQLite alone: events go
// straight to the admin database (the app's), and Close ships the last.
func TestAdminWithoutRedis(t *testing.T) {
	tk := kerneltest.New(t, nil)
	if !strings.Contains(tk.Logs.String(), "admin (audit, usage metering): on (admin database = the app database; events straight to it; no worker needed") {
		t.Errorf("start-up logs lack the admin line:\n%s", tk.Logs.String())
	}
	if tk.AdminDB() != tk.DB() {
		t.Error("AdminDB is not the app store when ADMIN_DB_URL is DATABASE_URL")
	}
	emitRequests(tk.AdminRecorder(), "u-direct", 700)
	if err := tk.Close(); err != nil {
		t.Fatal(err)
	}
	store, err := db.Open(context.Background(), tk.Config().DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if got := adminRequests(t, store, "u-direct"); got != 700 {
		t.Errorf("after Close: %d requests; want 700", got)
	}
}

// With Redis, events go through the stream to the embedded worker, into
// an admin database of its own (ADMIN_DB_URL).
func TestAdminWithRedisAndOwnAdminDB(t *testing.T) {
	adminURL := "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "admin.db"))
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.RedisURL = testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
		c.RedisPrefix = "admintest-" + uuid.NewString()
		c.AdminDBURL = adminURL
	}})
	if !strings.Contains(tk.Logs.String(), "admin:events; embedded worker") {
		t.Errorf("start-up logs lack the embedded admin worker:\n%s", tk.Logs.String())
	}
	if tk.AdminDB() == tk.DB() {
		t.Fatal("AdminDB is the app store with an ADMIN_DB_URL of its own")
	}
	emitRequests(tk.AdminRecorder(), "u-stream", 300)
	waitAdmin(t, "300 requests", func() bool { return adminRequests(t, tk.AdminDB(), "u-stream") == 300 })
}

// With ADMIN_WORKER_EMBEDDED=false the service only ships; RunAdminWorker,
// in its own "process", persists.
func TestRunAdminWorker(t *testing.T) {
	ctx := context.Background()
	adminURL := "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "admin.db"))
	redisURL := testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	prefix := "admintest-" + uuid.NewString()
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.RedisURL, c.RedisPrefix, c.AdminDBURL = redisURL, prefix, adminURL
		c.DisableEmbeddedAdminWorker = true
	}})
	if !strings.Contains(tk.Logs.String(), "embedded worker disabled by ADMIN_WORKER_EMBEDDED=false") {
		t.Errorf("start-up logs lack the disabled admin worker:\n%s", tk.Logs.String())
	}
	emitRequests(tk.AdminRecorder(), "u-process", 250)

	logs := &testenv.Buffer{}
	cfg := appkernel.Config{
		Env: appkernel.EnvTest, DatabaseURL: sqliteURL(t), AdminDBURL: adminURL,
		RedisURL: redisURL, RedisPrefix: prefix, DisableDevAutostart: true,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- appkernel.RunAdminWorker(wctx, cfg) }()
	store, err := db.Open(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	waitAdmin(t, "250 requests", func() bool { return adminRequests(t, store, "u-process") == 250 })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("RunAdminWorker: %v", err)
	}
	if !strings.Contains(logs.String(), "admin worker: on (worker process") {
		t.Errorf("worker logs lack its line:\n%s", logs.String())
	}
}

// RunAdminWorker refuses to start without Redis, or with a Redis or an
// admin database that does not answer, saying which.
func TestRunAdminWorkerRefuses(t *testing.T) {
	ctx := context.Background()
	base := appkernel.Config{Env: appkernel.EnvTest, DisableDevAutostart: true, DatabaseURL: sqliteURL(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	if err := appkernel.RunAdminWorker(ctx, base); !errors.Is(err, appkernel.ErrConfig) || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("without REDIS_URL: %v", err)
	}
	cfg := base
	cfg.RedisURL = "redis://" + testenv.ClosedPort(t) + "/0"
	cfg.ConnectTimeout = time.Second
	if err := appkernel.RunAdminWorker(ctx, cfg); err == nil || !strings.Contains(err.Error(), "Redis (REDIS_URL)") {
		t.Errorf("with a dead Redis: %v", err)
	}
	cfg = base
	cfg.RedisURL = testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	cfg.AdminDBURL = "postgres://nobody@" + testenv.ClosedPort(t) + "/x?sslmode=disable"
	cfg.ConnectTimeout = time.Second
	if err := appkernel.RunAdminWorker(ctx, cfg); err == nil || !strings.Contains(err.Error(), "admin database (ADMIN_DB_URL)") {
		t.Errorf("with a dead admin database: %v", err)
	}
}
