// Package scaleout proves the kernel's scale-out answer: stateless
// instances of the example on one database and one Redis, driven
// round-robin like a load balancer would, share rate limits, jobs,
// sessions and data, and survive an instance killed or stopped under load.
package scaleout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// adminEmail is the operator's admin account (ADMIN_EMAIL) of the cluster;
// every account's password is password.
const (
	adminEmail = "ops@example.com"
	password   = "correct horse battery staple"
)

// jobLease is the kernel worker's default lease (jobs.WorkerOptions.Lease):
// the jobs of a killed instance run again within it plus the recovery
// interval.
const jobLease = 15 * time.Second

func TestScaleOut(t *testing.T) {
	pg, my, rd := testenv.PostgresURL(t), testenv.MySQLURL(t), testenv.RedisURL(t)
	bin := buildExample(t)
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		scaleOut(t, bin, dbtest.FreshPostgres(t, pg), rd)
	})
	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		scaleOut(t, bin, dbtest.FreshMySQL(t, my), rd)
	})
}

func scaleOut(t *testing.T, bin, dbURL, redisURL string) {
	store, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	c := startCluster(t, bin, 3, dbURL, redisURL,
		"RATE_LIMIT_REQUESTS=100", "RATE_LIMIT_WINDOW=1h",
		"ADMIN_EMAIL="+adminEmail, "ADMIN_PASSWORD="+password,
		"WIDGETS_PROCESSING_TIME=300ms")

	// The quick checks run side by side; the kill and the stop come last,
	// on the same cluster, once they are done.
	t.Run("shared", func(t *testing.T) {
		t.Run("rate limit is one budget", func(t *testing.T) { t.Parallel(); rateLimitIsShared(t, c) })
		t.Run("every job runs once", func(t *testing.T) { t.Parallel(); jobsRunOnce(t, c, store) })
		t.Run("refresh rotation is shared", func(t *testing.T) { t.Parallel(); refreshIsShared(t, c) })
		t.Run("logout reaches every instance", func(t *testing.T) { t.Parallel(); logoutReachesAll(t, c) })
		t.Run("a revoked API key is refused everywhere", func(t *testing.T) { t.Parallel(); keyRevokeReachesAll(t, c) })
		t.Run("a flag change reaches every instance", func(t *testing.T) { t.Parallel(); flagChangeReachesAll(t, c) })
		t.Run("audit and usage are complete", func(t *testing.T) { t.Parallel(); auditAndUsageComplete(t, c) })
	})
	if t.Failed() {
		return
	}
	t.Run("SIGKILL under load", func(t *testing.T) { killUnderLoad(t, c, store) })
	if t.Failed() {
		return
	}
	t.Run("SIGTERM under load", func(t *testing.T) { stopUnderLoad(t, c, store) })
}

// rateLimitIsShared: 300 requests of one user spread over three instances
// get 100 answers and 429s, not 300 answers (a limit of 100 per hour).
func rateLimitIsShared(t *testing.T, c *cluster) {
	u := c.register(t, "limits@example.com")
	var ok, limited atomic.Int64
	perInstance := make([]atomic.Int64, len(c.insts))
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 50 {
				n := (g*50 + i) % len(c.insts)
				r := c.do(c.insts[n], "GET", "/widgets?limit=1", u.AccessToken, nil)
				switch r.status {
				case 200:
					ok.Add(1)
					perInstance[n].Add(1)
				case 429:
					limited.Add(1)
				default:
					t.Errorf("GET /widgets on %s: %d %s %v", c.insts[n].name, r.status, r.body, r.err)
				}
			}
		})
	}
	wg.Wait()
	// The register request spent no token of this user (it was anonymous).
	if got := ok.Load(); got > 100 || got < 90 {
		t.Fatalf("%d of 300 requests answered and %d limited, want 100 answered (one budget of 100 across 3 instances)", got, limited.Load())
	}
	for i := range perInstance {
		if perInstance[i].Load() == 0 {
			t.Errorf("%s answered none: the test did not spread the load", c.insts[i].name)
		}
	}
}

// keyRevokeReachesAll: an API key used on every instance (so each has it
// cached) and revoked on one is refused by all of them within 5 s (Redis
// carries the revocation; without Redis the bound is the key cache's).
func keyRevokeReachesAll(t *testing.T, c *cluster) {
	u := c.register(t, "keys@example.com")
	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	c.must(c.next(), 201, "POST", "/auth/api-keys", u.AccessToken,
		map[string]any{"name": "harness", "scopes": []string{"widgets:read"}, "expires_in_days": 1}).decode(t, &key)
	for _, in := range c.insts {
		c.must(in, 200, "GET", "/widgets?limit=1", key.Key, nil)
	}
	c.must(c.insts[0], 204, "DELETE", "/auth/api-keys/"+key.ID, u.AccessToken, nil)
	for _, in := range c.insts {
		eventually(t, 5*time.Second, "revoked key refused on "+in.name, func() bool {
			return c.do(in, "GET", "/widgets?limit=1", key.Key, nil).status == 401
		})
	}
}

// flagChangeReachesAll: a flag turned on and then off by an admin on one
// instance is seen so by every instance within 5 s (Redis pub/sub; without
// Redis the documented bound is the flags' 5 s refresh).
func flagChangeReachesAll(t *testing.T, c *cluster) {
	u := c.register(t, "flags@example.com")
	boss := c.login(t, c.insts[0], adminEmail)
	seen := func(in *instance) (on, found bool) {
		var got map[string]bool
		r := c.must(in, 200, "GET", "/flags", u.AccessToken, nil)
		r.decode(t, &got)
		on, found = got["harness.switch"]
		return on, found
	}
	for _, want := range []bool{true, false} {
		c.must(c.insts[0], 200, "PUT", "/admin/flags/harness.switch", boss.AccessToken,
			map[string]any{"enabled": want, "rollout_percent": 100})
		for _, in := range c.insts {
			eventually(t, 5*time.Second, fmt.Sprintf("flag %v on %s", want, in.name), func() bool {
				on, found := seen(in)
				return found && on == want
			})
		}
	}
}

// auditAndUsageComplete: 20 widgets created through the three instances
// appear in the audit trail exactly once each, and the workspace's usage
// for the month counts exactly the 20 requests (the admin workers of the
// three instances share one stream).
func auditAndUsageComplete(t *testing.T, c *cluster) {
	c.register(t, "audit@example.com")
	u := c.login(t, c.insts[0], "audit@example.com")
	var me struct {
		WorkspaceID string `json:"workspace_id"`
	}
	c.must(c.insts[1], 200, "GET", "/auth/me", u.AccessToken, nil).decode(t, &me)
	if me.WorkspaceID == "" {
		t.Fatal("the user has no workspace")
	}
	created := map[string]bool{}
	for i := range 20 {
		var w widget
		c.must(c.next(), 201, "POST", "/widgets", u.AccessToken, map[string]string{"name": fmt.Sprintf("a%d", i)}).decode(t, &w)
		created[w.ID] = true
	}
	boss := c.login(t, c.insts[2], adminEmail)
	period := time.Now().UTC().Format("2006-01")
	usage := func() int64 {
		var got struct {
			Usage map[string]int64 `json:"usage"`
		}
		c.must(c.next(), 200, "GET", "/admin/usage?workspace_id="+me.WorkspaceID+"&period="+period, boss.AccessToken, nil).decode(t, &got)
		return got.Usage["requests"]
	}
	// The 20 creates and the GET /auth/me before them: requests of this
	// user in this workspace.
	const want = 21
	eventually(t, 15*time.Second, "usage reaches 21 requests", func() bool { return usage() >= want })
	time.Sleep(time.Second) // a duplicate, if any, would be counted by now
	if got := usage(); got != want {
		t.Errorf("usage counts %d requests, want %d", got, want)
	}
	var page struct {
		Entries []struct {
			Action   string `json:"action"`
			EntityID string `json:"entity_id"`
		} `json:"entries"`
	}
	c.must(c.next(), 200, "GET", "/admin/audit?entity=widgets&user_id="+u.UserID+"&limit=100", boss.AccessToken, nil).decode(t, &page)
	seen := map[string]int{}
	for _, e := range page.Entries {
		if e.Action == "create" {
			seen[e.EntityID]++
		}
	}
	for id := range created {
		if seen[id] != 1 {
			t.Errorf("widget %s has %d create entries in the audit trail, want 1", id, seen[id])
		}
	}
	if len(page.Entries) != len(created) {
		t.Errorf("%d audit entries for the user's widgets, want %d", len(page.Entries), len(created))
	}
}

// widget is the part of the example's widget the harness reads.
type widget struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// jobsRunOnce: 30 widgets processed through jobs enqueued on every
// instance, run by the three embedded workers: each exactly once (the
// widget's history has its create and one update).
func jobsRunOnce(t *testing.T, c *cluster, store *db.Store) {
	u := c.register(t, "jobs@example.com")
	var ids []string
	for i := range 30 {
		var w widget
		c.must(c.next(), 201, "POST", "/widgets", u.AccessToken, map[string]string{"name": fmt.Sprintf("w%d", i)}).decode(t, &w)
		ids = append(ids, w.ID)
		c.must(c.next(), 202, "POST", "/widgets/"+w.ID+"/process", u.AccessToken, nil)
	}
	processed := func(id string) bool {
		e, err := store.GetEntity(context.Background(), "widgets", id)
		return err == nil && e["status"] == "processed"
	}
	eventually(t, 30*time.Second, "30 widgets processed", func() bool {
		for _, id := range ids {
			if !processed(id) {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // a second run, if any, would save again by now
	for _, id := range ids {
		h, err := store.History(context.Background(), "widgets", id)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 {
			t.Errorf("widget %s has %d versions, want 2 (created, processed once)", id, len(h))
		}
	}
}

// refreshIsShared: a refresh token rotated on one instance is spent on the
// others: presented again there (within the grace window) it gets the same
// successor back, never a second one.
func refreshIsShared(t *testing.T, c *cluster) {
	c.register(t, "refresh@example.com")
	s0 := c.login(t, c.insts[0], "refresh@example.com")
	var s1, again session
	c.must(c.insts[1], 200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": s0.RefreshToken}).decode(t, &s1)
	c.must(c.insts[2], 200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": s0.RefreshToken}).decode(t, &again)
	if again.RefreshToken != s1.RefreshToken {
		t.Fatalf("the spent token rotated again on another instance: %q then %q", s1.RefreshToken, again.RefreshToken)
	}
	var s2 session
	c.must(c.insts[2], 200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": s1.RefreshToken}).decode(t, &s2)
	c.must(c.insts[0], 200, "GET", "/auth/me", s2.AccessToken, nil)
}

// logoutReachesAll: after a logout on one instance the session's access
// token is refused there at once and on the others within the identity
// cache's bound (auth.Config.IdentityCacheTTL, 30 s by default), also
// where it was cached as live just before.
func logoutReachesAll(t *testing.T, c *cluster) {
	c.register(t, "logout@example.com")
	s := c.login(t, c.insts[0], "logout@example.com")
	for _, in := range c.insts {
		c.must(in, 200, "GET", "/auth/me", s.AccessToken, nil)
	}
	c.must(c.insts[0], 204, "POST", "/auth/logout", s.AccessToken, map[string]string{"refresh_token": s.RefreshToken})
	c.must(c.insts[0], 401, "GET", "/auth/me", s.AccessToken, nil)
	for _, in := range c.insts[1:] {
		eventually(t, 32*time.Second, "logout seen on "+in.name, func() bool {
			return c.do(in, "GET", "/auth/me", s.AccessToken, nil).status == 401
		})
	}
}

// load creates widgets and enqueues their processing through the live
// instances, one user per goroutine, until stop is closed. It records the
// widgets whose create was acknowledged (201) and whose processing was
// acknowledged (202), and the requests that failed on an instance the
// test did not kill.
type load struct {
	done      chan struct{} // closed when every goroutine returned
	mu        sync.Mutex
	created   []string
	processed []string
	failures  []string
}

func (c *cluster) runLoad(t *testing.T, users []session, stop <-chan struct{}) *load {
	l := &load{done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for i := 0; i < 45; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := c.next()
				r := c.do(in, "POST", "/widgets", u.AccessToken, map[string]string{"name": fmt.Sprintf("load%d", i)})
				if r.status != 201 {
					l.fail(in, r)
					continue
				}
				var w widget
				r.decode(t, &w)
				l.mu.Lock()
				l.created = append(l.created, w.ID)
				l.mu.Unlock()
				in = c.next()
				r = c.do(in, "POST", "/widgets/"+w.ID+"/process", u.AccessToken, nil)
				if r.status != 202 {
					l.fail(in, r)
					continue
				}
				l.mu.Lock()
				l.processed = append(l.processed, w.ID)
				l.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	go func() { wg.Wait(); close(l.done) }()
	t.Cleanup(func() { <-l.done })
	return l
}

// acked returns how many processings were acknowledged so far.
func (l *load) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.processed)
}

// check waits for the load to end, then fails on a request that failed on
// a live instance, an acknowledged widget that is not stored, or an
// acknowledged processing not done by deadline.
func (l *load) check(t *testing.T, store *db.Store, deadline time.Time) {
	t.Helper()
	<-l.done
	for _, f := range l.failures {
		t.Errorf("a request failed on a live instance: %s", f)
	}
	ctx := context.Background()
	for _, id := range l.created {
		if _, err := store.GetEntity(ctx, "widgets", id); err != nil {
			t.Errorf("acknowledged widget %s: %v", id, err)
		}
	}
	if len(l.created) == 0 || len(l.processed) == 0 {
		t.Fatalf("the load made %d widgets and %d processings", len(l.created), len(l.processed))
	}
	pending := func() (n int, first string) {
		for _, id := range l.processed {
			e, err := store.GetEntity(ctx, "widgets", id)
			if err != nil || e["status"] != "processed" {
				if n == 0 {
					first = id
				}
				n++
			}
		}
		return n, first
	}
	for {
		n, first := pending()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged processings not done in time (first: %s)", n, len(l.processed), first)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// users registers n fresh users (each has its own rate-limit budget).
func (c *cluster) users(t *testing.T, tag string, n int) []session {
	var us []session
	for i := range n {
		us = append(us, c.register(t, fmt.Sprintf("%s%d@example.com", tag, i)))
	}
	return us
}

// killUnderLoad: one instance SIGKILLed while widgets are created and
// processed through all three: no acknowledged write is lost, no request
// to the other instances fails, and every acknowledged job (those the
// killed instance was running too) is done within the lease plus 5 s.
func killUnderLoad(t *testing.T, c *cluster, store *db.Store) {
	users := c.users(t, "kill", 4)
	stop := make(chan struct{})
	l := c.runLoad(t, users, stop)
	eventually(t, 30*time.Second, "load under way", func() bool { return l.acked() >= 30 })
	victim := c.insts[2]
	c.kill(victim, syscall.SIGKILL)
	killed := time.Now()
	<-victim.exited
	time.Sleep(time.Second) // the load goes on on the others
	close(stop)
	l.check(t, store, killed.Add(jobLease+5*time.Second))
	if !strings.Contains(victim.out.String(), "processing document") {
		t.Errorf("%s ran no job before it was killed: the test did not kill a worker at work", victim.name)
	}
}

// stopUnderLoad: SIGTERM to an instance under load: a request in flight
// (its body still arriving) completes, its worker finishes or releases its
// jobs (done within 5 s of its exit, not a lease), it exits 0 within the
// shutdown timeout, and the load sees no failure on the other instance.
func stopUnderLoad(t *testing.T, c *cluster, store *db.Store) {
	users := c.users(t, "stop", 4)
	slow := c.register(t, "slow@example.com")
	victim := c.insts[1]

	stop := make(chan struct{})
	l := c.runLoad(t, users, stop)
	eventually(t, 30*time.Second, "load under way", func() bool { return l.acked() >= 20 })

	// A request whose body is still arriving when SIGTERM comes.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", victim.url+"/widgets", pr)
	req.Header.Set("Authorization", "Bearer "+slow.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	inflight := make(chan reply, 1)
	go func() {
		resp, err := c.http.Do(req)
		if err != nil {
			inflight <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- reply{status: resp.StatusCode, body: b}
	}()
	_, _ = io.WriteString(pw, `{"name": "in `)
	time.Sleep(300 * time.Millisecond) // the server has read the headers

	c.kill(victim, syscall.SIGTERM)
	stopped := time.Now()
	time.Sleep(300 * time.Millisecond)
	_, _ = io.WriteString(pw, `flight"}`)
	_ = pw.Close()
	if r := <-inflight; r.status != 201 {
		t.Errorf("the request in flight at SIGTERM: %d %s %v, want 201", r.status, r.body, r.err)
	}

	select {
	case <-victim.exited:
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("%s still running %s after SIGTERM (shutdown timeout %s)", victim.name, time.Since(stopped), shutdownTimeout)
	}
	exitedAt := time.Now()
	if code := victim.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited with %d after SIGTERM, want 0", victim.name, code)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	l.check(t, store, exitedAt.Add(5*time.Second))
}

// shutdownTimeout is Config.ShutdownTimeout's default.
const shutdownTimeout = 10 * time.Second

func (l *load) fail(in *instance, r reply) {
	if in.dead.Load() {
		return // a request to the instance the test stopped
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf("%s: %d %s %v", in.name, r.status, r.body, r.err))
}
