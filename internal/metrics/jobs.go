package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"appkernel/jobs"
)

type jobMetrics struct {
	running *prometheus.GaugeVec
	runs    *prometheus.CounterVec
	wait    *prometheus.HistogramVec
}

func newJobMetrics(reg *prometheus.Registry) *jobMetrics {
	j := &jobMetrics{
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "jobs_running",
			Help: "Jobs whose handler runs in this process now, by task.",
		}, []string{"task"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "jobs_runs_total",
			Help: "Finished runs of jobs, by task and outcome: succeeded, failed (will retry) or dead (moved to the dead set).",
		}, []string{"task", "outcome"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "jobs_wait_seconds",
			Help:    "Time from Enqueue to the start of a job's first run, by task (a delayed job's delay included).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"task"}),
	}
	reg.MustRegister(j.running, j.runs, j.wait)
	return j
}

// JobHooks returns the worker hooks that count runs by task and outcome,
// the jobs running now, and the wait of first runs. Task names are the
// registry's (the worker reports only tasks it has), so they are bounded.
func (m *Metrics) JobHooks() jobs.Hooks {
	if m == nil {
		return jobs.Hooks{}
	}
	j := m.jobs
	return jobs.Hooks{
		Run: func(ctx context.Context, job *jobs.Job) (context.Context, func(error)) {
			if job.Attempt == 1 && !job.EnqueuedAt.IsZero() {
				j.wait.WithLabelValues(job.Name).Observe(max(time.Since(job.EnqueuedAt), 0).Seconds())
			}
			g := j.running.WithLabelValues(job.Name)
			g.Inc()
			return ctx, func(error) { g.Dec() }
		},
		Outcome: func(task, outcome string) {
			j.runs.WithLabelValues(task, outcome).Inc()
		},
	}
}

// QueueDepths registers the jobs_queue_depth gauge, read at each scrape
// by depths (jobs.Client.QueueDepths) within a second; a scrape while
// Redis is away reports no depth rather than failing.
func (m *Metrics) QueueDepths(depths func(context.Context) ([]jobs.QueueDepth, error)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&depthCollector{depths: depths, desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "jobs", "queue_depth"),
		"Jobs of each queue in each state: pending, running, scheduled (delayed or waiting to retry), dead.",
		[]string{"queue", "state"}, nil)})
}

type depthCollector struct {
	depths func(context.Context) ([]jobs.QueueDepth, error)
	desc   *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ds, err := c.depths(ctx)
	if err != nil {
		return
	}
	for _, d := range ds {
		for _, s := range [...]struct {
			state string
			n     int64
		}{{"pending", d.Pending}, {"running", d.Running}, {"scheduled", d.Scheduled}, {"dead", d.Dead}} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.n), d.Queue, s.state)
		}
	}
}
