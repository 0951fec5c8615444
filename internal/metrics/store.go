package metrics

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"appkernel/db"
)

var storeOps = [...]string{db.OpGet, db.OpSave, db.OpFind, db.OpCount, db.OpDelete, db.OpHistory}

func storeOpIndex(op string) int {
	for i, o := range storeOps {
		if o == op {
			return i
		}
	}
	return len(storeOps)
}

type storeMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec

	tables atomic.Pointer[map[string]*tableSeries]
	mu     sync.Mutex
}

// tableSeries holds the children of one table, made on first use.
type tableSeries struct {
	table  string
	obs    [len(storeOps) + 1]atomic.Pointer[prometheus.Observer]
	errors [len(storeOps) + 1]atomic.Pointer[prometheus.Counter]
}

func newStoreMetrics(reg *prometheus.Registry) *storeMetrics {
	s := &storeMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "db_operation_duration_seconds",
			Help:    "Time of an entity store operation (get, save, find, count, delete, history), by operation and table.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation", "table"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "db_operation_errors_total",
			Help: "Entity store operations that failed (a get of a missing entity is not a failure), by operation and table.",
		}, []string{"operation", "table"}),
	}
	empty := map[string]*tableSeries{}
	s.tables.Store(&empty)
	reg.MustRegister(s.duration, s.errors)
	return s
}

// StoreOp measures one operation of the entity store (db.Config.OnOp).
func (m *Metrics) StoreOp(_ context.Context, op db.Op) {
	if m == nil {
		return
	}
	s := m.store
	ts := (*s.tables.Load())[op.Table]
	if ts == nil {
		ts = s.addTable(op.Table)
	}
	i := storeOpIndex(op.Name)
	opName := otherValue
	if i < len(storeOps) {
		opName = storeOps[i]
	}
	o := ts.obs[i].Load()
	if o == nil {
		obs := s.duration.WithLabelValues(opName, ts.table)
		ts.obs[i].CompareAndSwap(nil, &obs)
		o = &obs
	}
	(*o).Observe(op.Duration.Seconds())
	if op.Err != nil && !errors.Is(op.Err, db.ErrNotFound) {
		c := ts.errors[i].Load()
		if c == nil {
			cnt := s.errors.WithLabelValues(opName, ts.table)
			ts.errors[i].CompareAndSwap(nil, &cnt)
			c = &cnt
		}
		(*c).Inc()
	}
}

func (s *storeMetrics) addTable(table string) *tableSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.tables.Load()
	if ts := old[table]; ts != nil {
		return ts
	}
	if len(old) >= maxLabelValues {
		if ts := old[otherValue]; ts != nil {
			return ts
		}
		table = otherValue
	}
	ts := &tableSeries{table: table}
	next := make(map[string]*tableSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[table] = ts
	s.tables.Store(&next)
	return ts
}

// DBPool registers the database/sql pool statistics of pool under the
// label db_name=name (client_golang's go_sql_* metrics).
func (m *Metrics) DBPool(name string, pool *sql.DB) {
	if m == nil || pool == nil {
		return
	}
	m.reg.MustRegister(collectors.NewDBStatsCollector(pool, name))
}
