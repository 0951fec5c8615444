package appkernel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"appkernel"
	"appkernel/internal/testenv"
)

// The zero Config is the default service: New(ctx, Config{}) keeps its
// data in ./data/app.db, serves accounts, and (given only a Redis URL)
// limits requests, as DefaultConfig does. Before, the zero Config ran
// without a database, auth or rate limiting, silently.
func TestZeroConfigIsTheDefaultService(t *testing.T) {
	t.Chdir(t.TempDir())
	k, err := appkernel.New(context.Background(), appkernel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	srv := httptest.NewServer(k)
	defer srv.Close()

	res, err := http.Post(srv.URL+"/auth/register", "application/json",
		strings.NewReader(`{"email":"ada@example.com","password":"correct horse battery staple"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /auth/register on the zero Config: %d, want 201 (database and auth on)", res.StatusCode)
	}
	if _, err := os.Stat("data/app.db"); err != nil {
		t.Fatalf("the zero Config did not keep its data in ./data/app.db: %v", err)
	}

	def, err := appkernel.New(context.Background(), appkernel.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	zc, dc := k.Config(), def.Config()
	zc.Logger, dc.Logger = nil, nil
	if !reflect.DeepEqual(zc, dc) {
		t.Fatalf("New(Config{}) runs with\n%+v\nNew(DefaultConfig()) with\n%+v", zc, dc)
	}
}

func TestZeroConfigWithRedisLimitsRequests(t *testing.T) {
	redisURL := testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	t.Chdir(t.TempDir())
	k, err := appkernel.New(context.Background(), appkernel.Config{RedisURL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	srv := httptest.NewServer(k)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("GET /auth/me without a token: %d, want 401 (auth on)", res.StatusCode)
	}
	if got := res.Header.Get("RateLimit-Limit"); got != "100" {
		t.Fatalf("RateLimit-Limit %q, want 100: rate limiting is on by default with Redis", got)
	}
}
