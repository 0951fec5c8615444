package jobs_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"appkernel/cache"
	"appkernel/db"
	"appkernel/jobs"
)

// A handler reaches the store, the cache and a jobs client in one line
// each: job.Store(), job.Cache(), job.Jobs().
func TestJobReachesStoreCacheAndClient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite:///"+filepath.ToSlash(filepath.Join(t.TempDir(), "app.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mem := cache.NewMemory(cache.MemoryOptions{})
	doc, err := store.SaveEntity(ctx, "documents", map[string]any{"title": "draft", "status": "new"})
	if err != nil {
		t.Fatal(err)
	}

	followed := make(chan string, 1)
	b.reg.Task("process_document", jobs.Typed(func(ctx context.Context, job *jobs.Job, p struct{ ID string }) (any, error) {
		d, err := job.Store().GetEntity(ctx, "documents", p.ID)
		if err != nil {
			return nil, err
		}
		d["status"] = "processed"
		if _, err := job.Store().SaveEntity(ctx, "documents", d); err != nil {
			return nil, err
		}
		if err := job.Cache().Set(ctx, "document:"+p.ID, d["status"], time.Minute); err != nil {
			return nil, err
		}
		_, err = job.Jobs().Enqueue(ctx, "notify", p)
		return nil, err
	}))
	b.reg.Task("notify", jobs.Typed(func(ctx context.Context, job *jobs.Job, p struct{ ID string }) (any, error) {
		followed <- p.ID
		return nil, nil
	}))
	opts := b.fastOptions()
	opts.Store, opts.Cache = store, mem // Client: the default, on the worker's prefix
	b.start(t, opts)

	id := doc["id"].(string)
	if _, err := b.client.Enqueue(ctx, "process_document", map[string]string{"ID": id}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-followed:
		if got != id {
			t.Fatalf("follow-up job for %s, want %s", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the follow-up job enqueued through job.Jobs() did not run")
	}
	saved, err := store.GetEntity(ctx, "documents", id)
	if err != nil || saved["status"] != "processed" {
		t.Fatalf("document after the job: %v, %v", saved, err)
	}
	var cached string
	if ok, err := mem.Get(ctx, "document:"+id, &cached); !ok || err != nil || cached != "processed" {
		t.Fatalf("cache after the job: %q %v %v", cached, ok, err)
	}
}
