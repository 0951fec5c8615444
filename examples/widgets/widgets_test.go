package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/jobs"
	"appkernel/kerneltest"
)

// newService starts the example as main.go does: the kernel calls setup.
func newService(t *testing.T, mutate func(*appkernel.Config)) *kerneltest.Kernel {
	t.Helper()
	return kerneltest.New(t, &kerneltest.Options{
		Config: func(c *appkernel.Config) {
			c.Setup = setup
			if mutate != nil {
				mutate(c)
			}
		},
	})
}

type widgetList struct {
	Widgets []Widget `json:"widgets"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
}

func TestWidgetsBelongToTheirOwner(t *testing.T) {
	tk := newService(t, nil)
	alice, bob := tk.User(t, "alice@example.com"), tk.User(t, "bob@example.com")

	var w Widget
	alice.Post(t, "/widgets", map[string]any{"name": "sprocket", "color": "green"}).Expect(t, 201).JSON(t, &w)
	if w.ID == "" || w.OwnerID != alice.UserID || w.Name != "sprocket" || w.Color != "green" || w.CreatedAt == "" || w.UpdatedAt == "" {
		t.Fatalf("created %+v", w)
	}
	var got Widget
	alice.Get(t, "/widgets/"+w.ID).Expect(t, 200).JSON(t, &got)
	if got != w {
		t.Fatalf("read back %+v, want %+v", got, w)
	}
	// Bob can neither read nor process Alice's widget, nor see it listed.
	if code := bob.Get(t, "/widgets/"+w.ID).Expect(t, 404).ErrorCode(t); code != "not_found" {
		t.Fatalf("code %s", code)
	}
	bob.Post(t, "/widgets/"+w.ID+"/process", nil).Expect(t, 404)
	var list widgetList
	bob.Get(t, "/widgets").Expect(t, 200).JSON(t, &list)
	if len(list.Widgets) != 0 {
		t.Fatalf("bob sees %+v", list.Widgets)
	}
	// Anonymous callers get 401 in the error shape.
	if code := tk.Client().Get(t, "/widgets").Expect(t, 401).ErrorCode(t); code != "unauthorized" {
		t.Fatalf("code %s", code)
	}
}

func TestWidgetListPaginatesNewestFirst(t *testing.T) {
	tk := newService(t, nil)
	alice := tk.User(t, "alice@example.com")
	for i := range 5 {
		alice.Post(t, "/widgets", map[string]any{"name": fmt.Sprint("w", i)}).Expect(t, 201)
	}
	var page widgetList
	alice.Get(t, "/widgets?limit=2&offset=1").Expect(t, 200).JSON(t, &page)
	if len(page.Widgets) != 2 || page.Widgets[0].Name != "w3" || page.Widgets[1].Name != "w2" || page.Limit != 2 || page.Offset != 1 {
		t.Fatalf("page %+v", page)
	}
	alice.Get(t, "/widgets").Expect(t, 200).JSON(t, &page)
	if len(page.Widgets) != 5 || page.Limit != 100 {
		t.Fatalf("default page %+v", page)
	}
	for _, q := range []string{"limit=1001", "limit=0", "limit=-1", "limit=ten", "offset=-5"} {
		if code := alice.Get(t, "/widgets?"+q).Expect(t, 400).ErrorCode(t); code != "invalid_parameter" {
			t.Fatalf("%s: code %s", q, code)
		}
	}
	alice.Get(t, "/widgets?limit=1000").Expect(t, 200)
}

func TestWidgetColor(t *testing.T) {
	tk := newService(t, nil)
	alice := tk.User(t, "alice@example.com")
	for _, tc := range []struct {
		body any
		want string
	}{
		{`{"name":"plain"}`, "blue"},
		{`{"name":"null color","color":null}`, "blue"},
		{`{"name":"red","color":"red"}`, "red"},
		{`{"name":"shouted","color":"TEAL"}`, "teal"},
		{`{"name":"long","color":"` + strings.Repeat("a", 32) + `"}`, strings.Repeat("a", 32)},
	} {
		var w Widget
		alice.Post(t, "/widgets", tc.body).Expect(t, 201).JSON(t, &w)
		if w.Color != tc.want {
			t.Errorf("%v: color %q, want %q", tc.body, w.Color, tc.want)
		}
		var got Widget
		alice.Get(t, "/widgets/"+w.ID).Expect(t, 200).JSON(t, &got)
		if got.Color != tc.want {
			t.Errorf("%v: read back color %q, want %q", tc.body, got.Color, tc.want)
		}
	}
}

func TestWidgetBadInput(t *testing.T) {
	tk := newService(t, nil)
	alice := tk.User(t, "alice@example.com")
	cases := []struct {
		body    any
		status  int
		code    string
		message string // a part of the message the client reads
	}{
		{`{"name":`, 400, "invalid_json", "not valid JSON"},
		{`{"name":"a"} {"name":"b"}`, 400, "invalid_json", "single JSON value"},
		{`{"name":"a","colour":"red"}`, 400, "invalid_json", `unknown field "colour"`},
		// The fields of the old widget and of benchmark scripts are not aliases.
		{`{"name":"a","description":"cog"}`, 400, "invalid_json", `unknown field "description"`},
		{`{"title":"a","body":"b"}`, 400, "invalid_json", `unknown field "title"`},
		{`{"name":42}`, 400, "invalid_json", "name"},
		{`{"name":"a","color":5}`, 400, "invalid_json", "color"},
		{`{}`, 422, "validation_error", "name must be 1 to 200 characters"},
		{`{"name":"   "}`, 422, "validation_error", "name must be 1 to 200 characters"},
		{`{"name":"` + strings.Repeat("n", 201) + `"}`, 422, "validation_error", "name must be 1 to 200 characters"},
		{`{"name":"a","color":""}`, 422, "validation_error", "color must be 1 to 32 letters a-z"},
		{`{"name":"a","color":"light blue"}`, 422, "validation_error", "color must be 1 to 32 letters a-z"},
		{`{"name":"a","color":"red1"}`, 422, "validation_error", "color must be 1 to 32 letters a-z"},
		{`{"name":"a","color":"` + strings.Repeat("a", 33) + `"}`, 422, "validation_error", "color must be 1 to 32 letters a-z"},
		// U+212A KELVIN SIGN lower-cases to an ASCII "k": still not a letter a-z.
		{`{"name":"a","color":"\u212a"}`, 422, "validation_error", "color must be 1 to 32 letters a-z"},
		{`{"name":"a","color":"rouge\u00e9"}`, 422, "validation_error", "color must be 1 to 32 letters a-z"},
	}
	for _, tc := range cases {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		alice.Post(t, "/widgets", tc.body).Expect(t, tc.status).JSON(t, &e)
		if e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.message) {
			t.Errorf("%v: %s %q, want %s with %q", tc.body, e.Error.Code, e.Error.Message, tc.code, tc.message)
		}
	}
	var list widgetList
	alice.Get(t, "/widgets").Expect(t, 200).JSON(t, &list)
	if len(list.Widgets) != 0 {
		t.Fatalf("bad input stored widgets: %+v", list.Widgets)
	}
}

func TestProcessDocument(t *testing.T) {
	t.Run("without Redis", func(t *testing.T) {
		tk := newService(t, nil)
		alice := tk.User(t, "alice@example.com")
		var w Widget
		alice.Post(t, "/widgets", map[string]any{"name": "doc"}).Expect(t, 201).JSON(t, &w)
		if code := alice.Post(t, "/widgets/"+w.ID+"/process", nil).Expect(t, 503).ErrorCode(t); code != "jobs_unavailable" {
			t.Fatalf("code %s", code)
		}
	})
	// The task reads the widget and saves it back processed, through
	// job.Store(): in the web process's embedded worker, and in a worker
	// process (`widgets worker`) beside a web process that runs no jobs.
	t.Run("embedded worker", func(t *testing.T) {
		// A database of this package's own: another package's kernel
		// test may be serving the "kerneltest" namespace right now.
		url := testenv.RedisURLOnDB(t, testenv.RedisDBWidgets)
		tk := newService(t, func(c *appkernel.Config) { c.RedisURL = url; c.RateLimitRequests = 1000 })
		processAndCheck(t, tk)
	})
	t.Run("worker process", func(t *testing.T) {
		url := testenv.RedisURLOnDB(t, testenv.RedisDBWidgets)
		tk := newService(t, func(c *appkernel.Config) {
			c.RedisURL = url
			c.RateLimitRequests = 1000
			c.DisableEmbeddedWorker = true // JOBS_WORKER_EMBEDDED=false
		})
		web := tk.Config()
		var logs kerneltest.LogBuffer
		cfg := appkernel.DefaultConfig()
		cfg.Name = web.Name
		cfg.DatabaseURL = web.DatabaseURL
		cfg.RedisURL = url
		cfg.DisableDevAutostart = true
		cfg.JWTSecret = web.JWTSecret
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		cfg.Setup = setup
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- appkernel.Run(ctx, cfg, []string{"worker"}) }()
		processAndCheck(t, tk)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the worker process: %v\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the worker process did not stop")
		}
		if !strings.Contains(logs.String(), "jobs: on (worker process") {
			t.Fatalf("worker logs:\n%s", logs.String())
		}
		if strings.Contains(tk.Logs.String(), "processing document") {
			t.Fatal("the web process ran the job although its embedded worker is disabled")
		}
	})
}

// processAndCheck creates a widget, has it processed and waits until the
// widget reads back processed.
func processAndCheck(t *testing.T, tk *kerneltest.Kernel) {
	t.Helper()
	alice := tk.User(t, "alice@example.com")
	var w Widget
	alice.Post(t, "/widgets", map[string]any{"name": "doc", "color": "red"}).Expect(t, 201).JSON(t, &w)
	if w.Status != "" {
		t.Fatalf("a new widget is %q", w.Status)
	}
	var accepted struct {
		JobID string `json:"job_id"`
	}
	alice.Post(t, "/widgets/"+w.ID+"/process", nil).Expect(t, 202).JSON(t, &accepted)
	if accepted.JobID == "" {
		t.Fatal("no job id")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := tk.Jobs().Status(context.Background(), accepted.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if info.State == jobs.StateSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s: %+v", info.State, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got Widget
	alice.Get(t, "/widgets/"+w.ID).Expect(t, 200).JSON(t, &got)
	if got.Status != "processed" || got.Name != "doc" || got.Color != "red" {
		t.Fatalf("widget after processing: %+v", got)
	}
}
