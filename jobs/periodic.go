package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads standard five-field cron specs ("*/5 * * * *"), the
// descriptors (@hourly, @daily, @every 10m …) and an optional leading
// seconds field ("*/10 * * * * *").
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// TimeZone sets the time zone of a periodic task's schedule ("0 9 * * *"
// is 09:00 there). Defaults to UTC. It means nothing for other tasks.
func TimeZone(loc *time.Location) TaskOption {
	return func(c *taskConfig) { c.loc = loc }
}

// periodic is a registered periodic task's schedule.
type periodic struct {
	name  string
	spec  string
	sched cron.Schedule
	loc   *time.Location
}

// PeriodicPayload is the payload of a periodic task's job: the tick it
// runs for.
type PeriodicPayload struct {
	ScheduledAt time.Time `json:"scheduled_at"`
}

// Periodic registers handler h under name, like Task, and runs it on the
// cron schedule spec ("*/5 * * * *": every 5 minutes; five fields, or six
// with leading seconds; or @hourly, @daily, @every 10m …), in UTC unless
// TimeZone says otherwise.
//
// Every worker of the task's Redis namespace watches the schedule, and
// each tick is enqueued exactly once however many workers run (they claim
// it atomically in Redis); the job's id is "periodic:<name>:<tick in
// RFC 3339>" and its payload a PeriodicPayload. Ticks missed while no
// worker ran are run once when one returns (the latest missed tick), not
// once per missed tick. A schedule seen for the first time starts from
// then: its first run is its next tick. Workers check schedules every
// WorkerOptions.RecoveryInterval (1 s by default). Client.Schedules shows
// the last and next runs.
//
// Periodic panics like Task, and on an invalid spec.
func (r *Registry) Periodic(name, spec string, h Handler, opts ...TaskOption) {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		panic(fmt.Sprintf("jobs: periodic task %q: schedule %q: %v", name, spec, err))
	}
	r.Task(name, h, opts...)
	t, _ := r.lookup(name)
	loc := t.loc
	if loc == nil {
		loc = time.UTC
	}
	r.mu.Lock()
	r.periodic = append(r.periodic, &periodic{name: name, spec: spec, sched: sched, loc: loc})
	r.mu.Unlock()
}

func (r *Registry) periodics() []*periodic {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.periodic
}

// next is the first tick after t.
func (p *periodic) next(t time.Time) time.Time { return p.sched.Next(t.In(p.loc)) }

// latestDue is the latest tick after last that is not after now, or zero
// when none is due yet.
func (p *periodic) latestDue(last, now time.Time) time.Time {
	due := p.next(last)
	if due.IsZero() || due.After(now) {
		return time.Time{}
	}
	// Ticks missed while no worker ran collapse into the latest one.
	for n := p.next(due); !n.IsZero() && !n.After(now); n = p.next(n) {
		due = n
	}
	return due
}

func periodicJobID(name string, tick time.Time) string {
	return "periodic:" + name + ":" + tick.UTC().Format(time.RFC3339)
}

// Schedule is the state of a periodic task, from Client.Schedules.
type Schedule struct {
	Name      string    `json:"name"`
	Spec      string    `json:"spec"`
	TimeZone  string    `json:"time_zone"`
	LastRun   time.Time `json:"last_run,omitzero"`     // the last tick enqueued; zero before the first
	LastJobID string    `json:"last_job_id,omitempty"` // its job, for Status
	NextRun   time.Time `json:"next_run"`              // the next tick to enqueue (past when overdue)
}

// Schedules returns the periodic tasks of the Client's registry
// (WithRegistry) with their last and next runs.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	if err := c.ok(); err != nil {
		return nil, err
	}
	var out []Schedule
	for _, p := range c.reg.periodics() {
		ms, seen, err := c.b.LastTick(ctx, p.name)
		if err != nil {
			return nil, fmt.Errorf("jobs: schedule of %s: %w", p.name, unavailable(err))
		}
		s := Schedule{Name: p.name, Spec: p.spec, TimeZone: p.loc.String()}
		from := time.Now()
		if seen {
			last := time.UnixMilli(ms)
			from = last
			if ran, err := c.Status(ctx, periodicJobID(p.name, last)); err == nil {
				s.LastRun, s.LastJobID = last, ran.ID
			}
		}
		s.NextRun = p.next(from).UTC()
		out = append(out, s)
	}
	return out, nil
}

// scheduleLoop enqueues the due ticks of the registry's periodic tasks
// every RecoveryInterval until ctx is done.
func (w *Worker) scheduleLoop(ctx context.Context) {
	defer w.loops.Done()
	t := time.NewTicker(w.opts.RecoveryInterval)
	defer t.Stop()
	for {
		for _, p := range w.reg.periodics() {
			w.scheduleTick(ctx, p, time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scheduleTick claims and enqueues p's latest due tick, if any.
func (w *Worker) scheduleTick(ctx context.Context, p *periodic, now time.Time) {
	ms, seen, err := w.b.LastTick(ctx, p.name)
	if err != nil {
		return // Redis is away: the fetchers say so; the tick waits
	}
	var tick time.Time
	if seen {
		if tick = p.latestDue(time.UnixMilli(ms), now); tick.IsZero() {
			return
		}
	}
	claimed, err := w.b.ClaimTick(ctx, p.name, ms, tick.UnixMilli(), now.UnixMilli(), seen)
	if err != nil || !claimed {
		return
	}
	_, err = w.opts.Client.Enqueue(ctx, p.name, PeriodicPayload{ScheduledAt: tick.UTC()}, WithID(periodicJobID(p.name, tick)))
	if err != nil && !errors.Is(err, ErrDuplicateID) {
		// Give the tick back, for the next check here or elsewhere.
		_ = w.b.UnclaimTick(context.WithoutCancel(ctx), p.name, tick.UnixMilli(), ms)
		w.log.Warn("jobs: periodic task not enqueued; trying again", "task", p.name, "tick", tick, "error", err)
		return
	}
	w.log.Info("jobs: periodic task enqueued", "task", p.name, "tick", tick.UTC())
}
