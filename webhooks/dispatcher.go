package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"appkernel/db"
)

const (
	connectTimeout = 5 * time.Second
	keepAlive      = 30 * time.Second
	userAgent      = "appkernel-webhooks/1"
)

// DefaultSchedule is the Standard Webhooks retry schedule: the delay
// before each attempt, the first one immediate. A delivery is given up
// after the last.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// DispatcherOptions configure a Dispatcher. Only Store is required.
type DispatcherOptions struct {
	// OnOutcome, when set, is told the outcome of every attempt it records:
	// "delivered", "retry", "failed" (no more attempts), "gone" (410: the
	// endpoint is disabled) or "dropped" (the webhook was deleted or
	// disabled meanwhile). For metrics; it must be quick. Defaults to nil.
	OnOutcome func(outcome string)
	// Store is the app database the deliveries are in.
	Store *db.Store

	// Logger receives one line per failed attempt. Defaults to slog.Default().
	Logger *slog.Logger

	// PollInterval is how often the dispatcher looks for due deliveries.
	// A Trigger in this process wakes it at once, after its commit.
	// Defaults to 500ms.
	PollInterval time.Duration

	// Concurrency bounds the deliveries being sent at once. Defaults to 64.
	Concurrency int

	// BatchSize bounds the deliveries claimed by one statement. Defaults to 100.
	BatchSize int

	// Timeout bounds one attempt, connection and response included.
	// Defaults to 10s.
	Timeout time.Duration

	// Lease is how long a claimed delivery belongs to this dispatcher; a
	// dispatcher that dies mid-send leaves it to another after that. It must
	// exceed Timeout by a second at least. Defaults to 6 × Timeout.
	Lease time.Duration

	// Schedule is the delay before each attempt (see DefaultSchedule, the
	// default); its length is the number of attempts.
	Schedule []time.Duration

	// DisableAfter disables an endpoint whose attempts failed for this
	// long with no success between. Defaults to 5 days.
	DisableAfter time.Duration

	// MaxRetryAfter caps how long a Retry-After answer delays the next
	// attempt. Defaults to 24h.
	MaxRetryAfter time.Duration

	// ResponseBodyLimit is how many bytes of a response body are read and
	// kept in the attempt's record. Defaults to 4096.
	ResponseBodyLimit int

	// Retention is how long finished deliveries (delivered or failed) are
	// kept, with their attempts, for GET …/deliveries. Each dispatcher
	// deletes older ones hourly. Defaults to 30 days; negative keeps them.
	Retention time.Duration

	// AllowPrivate lets endpoints resolve to loopback, private and other
	// non-public addresses (WEBHOOKS_ALLOW_PRIVATE=true): for development
	// and tests only. Defaults to false.
	AllowPrivate bool
}

func (o DispatcherOptions) withDefaults() DispatcherOptions {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PollInterval == 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.Concurrency == 0 {
		o.Concurrency = 64
	}
	if o.BatchSize == 0 {
		o.BatchSize = 100
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Lease == 0 {
		o.Lease = 6 * o.Timeout
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.DisableAfter == 0 {
		o.DisableAfter = 5 * 24 * time.Hour
	}
	if o.MaxRetryAfter == 0 {
		o.MaxRetryAfter = 24 * time.Hour
	}
	if o.ResponseBodyLimit == 0 {
		o.ResponseBodyLimit = 4096
	}
	if o.Retention == 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	return o
}

func (o DispatcherOptions) validate() error {
	switch {
	case o.Store == nil:
		return errors.New("webhooks: DispatcherOptions.Store is nil: pass the app's *db.Store")
	case o.PollInterval < 0 || o.Concurrency < 0 || o.BatchSize < 0 || o.Timeout < 0 || o.DisableAfter < 0 || o.ResponseBodyLimit < 0:
		return errors.New("webhooks: DispatcherOptions has a negative field: use 0 for its default")
	case o.Lease < o.Timeout+time.Second:
		return fmt.Errorf("webhooks: DispatcherOptions.Lease (%s) must exceed Timeout (%s) by a second at least", o.Lease, o.Timeout)
	case len(o.Schedule) == 0:
		return errors.New("webhooks: DispatcherOptions.Schedule is empty: leave it nil for DefaultSchedule")
	}
	return nil
}

// Dispatcher sends due deliveries. Run one on every instance: they share
// the work through leases in the database. Build it with NewDispatcher;
// the caller must call Stop after Start.
type Dispatcher struct {
	opts   DispatcherOptions
	store  *db.Store
	client *http.Client
	owner  string
	seq    atomic.Int64

	wake    chan struct{}
	slots   chan struct{}
	results chan result

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewDispatcher checks opts and builds a dispatcher; Start starts it.
func NewDispatcher(opts DispatcherOptions) (*Dispatcher, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 nil, // never through HTTP_PROXY: the guard checks the endpoint itself
		DialContext:           newDialer(opts.AllowPrivate).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConns:          opts.Concurrency * 2,
		MaxIdleConnsPerHost:   opts.Concurrency,
		IdleConnTimeout:       90 * time.Second,
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return &Dispatcher{
		opts:  opts,
		store: opts.Store,
		client: &http.Client{
			Transport: tr,
			// A redirect is the endpoint's answer, not a new endpoint: it is
			// recorded as a failure and never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		owner:   host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b),
		wake:    make(chan struct{}, 1),
		slots:   make(chan struct{}, opts.Concurrency),
		results: make(chan result, opts.Concurrency),
	}, nil
}

// Start creates the tables' columns and indexes (Init) and starts sending
// in the background until Stop.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("webhooks: dispatcher already started")
	}
	if err := Init(ctx, d.store); err != nil {
		return err
	}
	d.store.OnWrite(func(table string) {
		if table == tableDeliveries {
			d.poke()
		}
	})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.started, d.cancel, d.done = true, cancel, make(chan struct{})
	go d.run(runCtx)
	return nil
}

// Stop stops claiming, cancels the sends in flight (their deliveries are
// released and sent again, with the same webhook-id, by a dispatcher) and
// waits for the dispatcher to finish or ctx to end.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhooks: dispatcher stop: %w", ctx.Err())
	}
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run claims due deliveries while there are free slots and hands each to
// a sender; a recorder writes the results.
func (d *Dispatcher) run(ctx context.Context) {
	var senders sync.WaitGroup
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.record()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var pruned time.Time
	for ctx.Err() == nil {
		if d.opts.Retention > 0 && time.Since(pruned) >= pruneEvery {
			pruned = time.Now()
			d.prune(ctx)
		}
		free := cap(d.slots) - len(d.slots)
		n := min(free, d.opts.BatchSize)
		claimed := 0
		if n > 0 {
			ds, err := d.claim(ctx, n)
			if err != nil && ctx.Err() == nil {
				d.opts.Logger.Warn("webhooks: claim deliveries", "error", err)
			}
			claimed = len(ds)
			hooks := d.loadWebhooks(ctx, ds)
			for _, del := range ds {
				d.slots <- struct{}{}
				senders.Add(1)
				go func() {
					defer senders.Done()
					hook, known := hooks[str(del, "webhook_id")]
					res := result{delivery: del, aborted: true} // unreadable webhook: release
					if known {
						res = d.attempt(ctx, del, hook)
					}
					<-d.slots
					d.poke()
					d.results <- res
				}()
			}
		}
		if claimed > 0 && claimed == n {
			continue // more may be due
		}
		timer.Reset(d.opts.PollInterval)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
	}
	senders.Wait()
	close(d.results)
	<-recorded
	close(d.done)
}

// claim leases up to n due deliveries to this dispatcher and returns them.
// The lease is one conditional UPDATE: of two dispatchers claiming the
// same row, the database lets one change it and the other see it leased.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]db.Entity, error) {
	now := time.Now()
	nowS := db.FormatTime(now)
	// Idle polls are one plain SELECT on the pool, outside the store's
	// statement counts (Store.Stats measures what requests cost).
	sel := "SELECT id FROM " + tableDeliveries + " WHERE state = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)" +
		" ORDER BY next_attempt_at LIMIT " + strconv.Itoa(n)
	rows, err := d.store.DB().QueryContext(ctx, d.store.Dialect().Rebind(sel), statePending, nowS, nowS)
	if err != nil {
		return nil, fmt.Errorf("webhooks: due deliveries: %w", err)
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("webhooks: due deliveries: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, err
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].(string) < ids[j].(string) }) // one lock order
	token := d.owner + "/" + strconv.FormatInt(d.seq.Add(1), 10)
	q := "UPDATE " + tableDeliveries + " SET lease_until = ?, lease_owner = ? WHERE id IN (?" +
		strings.Repeat(", ?", len(ids)-1) + ") AND state = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
	args := append([]any{db.FormatTime(now.Add(d.opts.Lease)), token}, ids...)
	args = append(args, statePending, nowS, nowS)
	res, err := d.store.DB().ExecContext(ctx, d.store.Dialect().Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("webhooks: lease: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		return nil, err
	}
	// Read back what this claim won, as it is now.
	return d.store.FindEntities(ctx, tableDeliveries, db.Query{
		Where: "[lease_owner] = ?", Params: []any{token}, Limit: n,
	})
}

// pruneEvery is how often a dispatcher deletes deliveries past Retention.
const pruneEvery = time.Hour

// prune deletes finished deliveries older than Retention.
func (d *Dispatcher) prune(ctx context.Context) {
	q := "DELETE FROM " + tableDeliveries + " WHERE state IN (?, ?) AND updated_at < ?"
	before := db.FormatTime(time.Now().Add(-d.opts.Retention))
	if _, err := d.store.DB().ExecContext(ctx, d.store.Dialect().Rebind(q), stateDelivered, stateFailed, before); err != nil && ctx.Err() == nil {
		d.opts.Logger.Warn("webhooks: prune old deliveries", "error", err)
	}
}

// release gives a delivery back without counting an attempt (the
// dispatcher is stopping).
func (d *Dispatcher) release(id, owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := "UPDATE " + tableDeliveries + " SET lease_until = NULL, lease_owner = NULL WHERE id = ? AND lease_owner = ?"
	if _, err := d.store.DB().ExecContext(ctx, d.store.Dialect().Rebind(q), id, owner); err != nil {
		d.opts.Logger.Warn("webhooks: release delivery", "delivery_id", id, "error", err)
	}
}

// loadWebhooks reads the webhooks of ds once each. A webhook deleted is
// there as nil; one that could not be read is absent.
func (d *Dispatcher) loadWebhooks(ctx context.Context, ds []db.Entity) map[string]db.Entity {
	hooks := map[string]db.Entity{}
	for _, del := range ds {
		id := str(del, "webhook_id")
		if _, ok := hooks[id]; ok {
			continue
		}
		e, err := d.store.GetEntity(ctx, tableWebhooks, id)
		switch {
		case errors.Is(err, db.ErrNotFound):
			hooks[id] = nil
		case err != nil:
			if ctx.Err() == nil {
				d.opts.Logger.Warn("webhooks: load webhook", "webhook_id", id, "error", err)
			}
		default:
			hooks[id] = e
		}
	}
	return hooks
}

// Attempt is one try at sending a delivery, as recorded.
type Attempt struct {
	Attempt       int        `json:"attempt"`
	At            time.Time  `json:"at"`
	Status        int        `json:"status,omitempty"` // HTTP status; 0 when there was no response
	DurationMS    int64      `json:"duration_ms"`
	Error         string     `json:"error,omitempty"`
	Response      string     `json:"response,omitempty"` // the first bytes of the body
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// result is what an attempt leaves for the recorder.
type result struct {
	delivery db.Entity
	hook     db.Entity
	attempt  Attempt
	sent     bool      // an HTTP exchange took place or failed on the wire
	ok       bool      // 2xx
	retry    bool      // may succeed later
	gone     bool      // 410: disable the endpoint
	notAfter time.Time // Retry-After
	aborted  bool      // the dispatcher stopped: release, count nothing
	drop     string    // the webhook is gone or disabled: fail the delivery with this
}

// attempt sends del to its webhook hook once.
func (d *Dispatcher) attempt(ctx context.Context, del, hook db.Entity) result {
	r := result{delivery: del, hook: hook}
	r.attempt.Attempt = intOf(del, "attempt_count") + 1
	start := time.Now()
	r.attempt.At = start.UTC()
	switch {
	case hook == nil:
		r.drop = "webhook deleted"
		return r
	case hook["enabled"] != true:
		r.drop = "webhook disabled"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	body := []byte(str(del, "payload"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, str(hook, "url"), strings.NewReader(str(del, "payload")))
	if err != nil {
		r.drop = "bad url: " + err.Error()
		return r
	}
	id := str(del, "id")
	ts := start.Unix()
	sigs := make([]string, 0, 2)
	for _, s := range secrets(hook, start) {
		key, err := secretKey(s)
		if err != nil {
			r.drop = err.Error()
			return r
		}
		sigs = append(sigs, sign(key, id, ts, body))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	r.sent = true
	res, err := d.client.Do(req)
	if err == nil {
		lim := io.LimitReader(res.Body, int64(d.opts.ResponseBodyLimit))
		b, rerr := io.ReadAll(lim)
		res.Body.Close()
		r.attempt.Response = string(b)
		if rerr != nil && ctx.Err() != nil {
			err = rerr
		}
	}
	r.attempt.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			r.aborted = true // Stop: not the endpoint's fault
			return r
		}
		r.retry = !errors.Is(err, ErrBlockedAddress)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL: its query may hold a token
		}
		r.attempt.Error = err.Error()
		return r
	}
	r.attempt.Status = res.StatusCode
	switch c := res.StatusCode; {
	case c >= 200 && c < 300:
		r.ok = true
	case c == http.StatusGone:
		r.gone = true
		r.attempt.Error = "410 Gone: endpoint disabled"
	case c == http.StatusTooManyRequests || c == http.StatusRequestTimeout || c >= 500:
		r.retry = true
		r.attempt.Error = res.Status
		r.notAfter = retryAfter(res.Header.Get("Retry-After"), time.Now(), d.opts.MaxRetryAfter)
	case c >= 300 && c < 400:
		r.attempt.Error = res.Status + ": redirects are not followed"
	default:
		r.attempt.Error = res.Status
	}
	return r
}

// retryAfter parses a Retry-After value (seconds, or an HTTP date) into
// the earliest next attempt, capped at max from now; zero when absent.
func retryAfter(v string, now time.Time, limit time.Duration) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	var t time.Time
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		t = now.Add(time.Duration(min(s, int64(limit/time.Second))) * time.Second)
	} else if hd, err := http.ParseTime(v); err == nil {
		t = hd
	} else {
		return time.Time{}
	}
	if t.After(now.Add(limit)) {
		t = now.Add(limit)
	}
	return t
}

// record writes the results of attempts, many in one transaction when
// they come fast, until results is closed.
func (d *Dispatcher) record() {
	batch := make([]result, 0, 128)
	for r := range d.results {
		batch = append(batch[:0], r)
	more:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-d.results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		d.write(batch)
	}
}

// write records a batch of results.
func (d *Dispatcher) write(batch []result) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keep []result
	for _, r := range batch {
		if r.aborted {
			d.release(str(r.delivery, "id"), str(r.delivery, "lease_owner"))
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return
	}
	now := time.Now()
	hookChanges := map[string]db.Entity{}
	err := d.store.Tx(ctx, func(tx *db.Store) error {
		clear(hookChanges)
		held, err := d.stillHeld(ctx, tx, keep)
		if err != nil {
			return err
		}
		for _, r := range keep {
			if !held[str(r.delivery, "id")] {
				// The lease ran out before this record (a stalled database):
				// another dispatcher owns the delivery now and records it.
				d.opts.Logger.Warn("webhooks: lease lost before the attempt was recorded", "delivery_id", str(r.delivery, "id"))
				continue
			}
			if err := d.writeOne(ctx, tx, r, now, hookChanges); err != nil {
				return err
			}
		}
		for id, ch := range hookChanges {
			ch["id"] = id
			if _, err := tx.SaveEntity(ctx, tableWebhooks, ch); err != nil && !errors.Is(err, db.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		d.opts.Logger.Error("webhooks: record attempts (the deliveries are sent again after their lease)", "error", err, "count", len(keep))
	}
}

// stillHeld returns which deliveries of rs are still leased to the claim
// that took them.
func (d *Dispatcher) stillHeld(ctx context.Context, tx *db.Store, rs []result) (map[string]bool, error) {
	ids := make([]any, len(rs))
	owner := map[string]string{}
	for i, r := range rs {
		ids[i] = str(r.delivery, "id")
		owner[ids[i].(string)] = str(r.delivery, "lease_owner")
	}
	es, err := tx.FindEntities(ctx, tableDeliveries, db.Query{
		Where: "[id] IN (?" + strings.Repeat(", ?", len(ids)-1) + ")", Params: ids, Limit: len(ids),
	})
	if err != nil {
		return nil, err
	}
	held := make(map[string]bool, len(es))
	for _, e := range es {
		id := str(e, "id")
		held[id] = str(e, "lease_owner") == owner[id] && owner[id] != ""
	}
	return held, nil
}

// writeOne records one attempt and schedules what follows, noting changes
// to its webhook in hookChanges.
func (d *Dispatcher) writeOne(ctx context.Context, tx *db.Store, r result, now time.Time, hookChanges map[string]db.Entity) error {
	del := r.delivery
	n := r.attempt.Attempt
	upd := db.Entity{"id": str(del, "id"), "lease_until": nil, "lease_owner": nil}
	hookID := str(del, "webhook_id")
	change := func() db.Entity {
		if hookChanges[hookID] == nil {
			hookChanges[hookID] = db.Entity{}
		}
		return hookChanges[hookID]
	}
	switch {
	case r.drop != "":
		upd["state"], upd["last_error"] = stateFailed, r.drop
		d.outcome("dropped")
		_, err := tx.SaveEntity(ctx, tableDeliveries, upd)
		return err
	case r.ok:
		upd["state"] = stateDelivered
		if str(r.hook, "failing_since") != "" {
			change()["failing_since"] = ""
		}
	case r.gone:
		upd["state"] = stateFailed
		c := change()
		c["enabled"], c["disabled_reason"] = false, "endpoint answered 410 Gone"
	default:
		since, failing := timeOf(r.hook, "failing_since")
		if !failing {
			change()["failing_since"] = db.FormatTime(now)
		} else if now.Sub(since) >= d.opts.DisableAfter {
			c := change()
			c["enabled"], c["disabled_reason"] = false, "every attempt failed for "+d.opts.DisableAfter.String()
		}
		if r.retry && n < len(d.opts.Schedule) {
			next := now.Add(d.opts.Schedule[n])
			if r.notAfter.After(next) {
				next = r.notAfter
			}
			upd["state"], upd["next_attempt_at"] = statePending, db.FormatTime(next)
			at := next.UTC()
			r.attempt.NextAttemptAt = &at
		} else {
			upd["state"] = stateFailed
		}
	}
	if r.attempt.Error != "" {
		d.opts.Logger.Warn("webhooks: delivery attempt failed", "delivery_id", str(del, "id"), "webhook_id", hookID,
			"host", hostOf(str(r.hook, "url")), "attempt", n, "status", r.attempt.Status, "error", r.attempt.Error)
	}
	switch {
	case r.ok:
		d.outcome("delivered")
	case r.gone:
		d.outcome("gone")
	case upd["state"] == statePending:
		d.outcome("retry")
	default:
		d.outcome("failed")
	}
	upd["attempt_count"] = int64(n)
	upd["last_status"] = int64(r.attempt.Status)
	upd["last_error"] = r.attempt.Error
	upd["attempts"] = append(attemptsOf(del), r.attempt)
	_, err := tx.SaveEntity(ctx, tableDeliveries, upd)
	return err
}

func (d *Dispatcher) outcome(o string) {
	if d.opts.OnOutcome != nil {
		d.opts.OnOutcome(o)
	}
}

// attemptsOf returns the attempts recorded on a delivery, as stored.
func attemptsOf(del db.Entity) []any {
	list, _ := del["attempts"].([]any)
	out := make([]any, 0, len(list)+1)
	for _, a := range list {
		if m, ok := a.(map[string]any); ok && len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}
