package admin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"appkernel/db"
)

// ErrRaced is what Persist retries on: another writer inserted some of the
// batch's events between this transaction's look-up and its insert. It is
// returned only when every attempt raced.
var ErrRaced = errors.New("admin: a concurrent writer stored the same events")

// persistAttempts bounds Persist's retries of a batch that raced another
// writer (or met a deadlock or serialization failure).
const persistAttempts = 5

// Persist stores a batch of events in the admin database store, in one
// transaction: audit events in audit_logs, request and usage events in
// usage_events, and, for the usage events stored now, their sums in
// usage_aggregates for the day and the month of each event. It is
// idempotent by event id: an event already stored (an earlier delivery of
// the same event, or a duplicate within events) is neither stored nor
// counted again, also when two writers persist the same events at once.
// The admin worker and the direct transport both persist through it.
func Persist(ctx context.Context, store *db.Store, events []Event) error {
	return persistBatches(ctx, store, [][]Event{events})
}

// persistBatches is Persist of the events of several batches.
func persistBatches(ctx context.Context, store *db.Store, batches [][]Event) error {
	events := uniqueByID(batches)
	if len(events) == 0 {
		return nil
	}
	var err error
	for attempt := 0; attempt < persistAttempts; attempt++ {
		if err = persistOnce(ctx, store, events); err == nil || !retryable(store.Dialect(), err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

// uniqueByID returns the events of batches, in one slice, but those
// without an id and all but the first of each id.
func uniqueByID(batches [][]Event) []Event {
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	seen := make(map[string]struct{}, n)
	out := make([]Event, 0, n)
	for _, b := range batches {
		for _, e := range b {
			if e.ID == "" {
				continue
			}
			if _, dup := seen[e.ID]; dup {
				continue
			}
			seen[e.ID] = struct{}{}
			out = append(out, e)
		}
	}
	return out
}

func persistOnce(ctx context.Context, store *db.Store, events []Event) (err error) {
	var audit, usage []Event
	for _, e := range events {
		if e.Kind == KindAudit {
			audit = append(audit, e)
		} else {
			usage = append(usage, e)
		}
	}
	d := store.Dialect()
	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("admin: persist: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = insertAudit(ctx, tx, d, audit); err != nil {
		return err
	}
	fresh, err := insertUsage(ctx, tx, d, usage)
	if err != nil {
		return err
	}
	if err = addAggregates(ctx, tx, d, fresh); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("admin: persist: commit: %w", err)
	}
	return nil
}

// Column lists of the inserts.
var (
	auditColumns = []string{"id", "app", "action", "entity", "entity_id", "changes", "user_id", "api_key_id", "workspace_id", "request_id", "created_at"}
	usageColumns = []string{"id", "app", "kind", "method", "route", "status", "latency_us", "bytes_in", "bytes_out", "user_id", "workspace_id", "api_key_id", "metrics", "created_at"}
	aggColumns   = []string{"app", "workspace_id", "user_id", "metric", "period", "value"}
)

// maxParams bounds the parameters of one statement, below SQLite's 32766
// and the 65535 of Postgres and MySQL.
const maxParams = 30000

func insertAudit(ctx context.Context, tx *sql.Tx, d db.DialectName, events []Event) error {
	rows := make([][]any, 0, len(events))
	for _, e := range events {
		changes, err := e.encodedChanges()
		if err != nil {
			return fmt.Errorf("admin: persist: changes of event %s: %w", e.ID, err)
		}
		rows = append(rows, []any{e.ID, e.App, e.Action, e.Entity, e.EntityID, string(changes),
			e.UserID, e.APIKeyID, e.WorkspaceID, e.RequestID, db.FormatTime(e.Time)})
	}
	_, err := insertIgnore(ctx, tx, d, TableAudit, auditColumns, rows)
	return err
}

// insertUsage stores the request and usage events not stored yet and
// returns those it stored. Postgres and SQLite say which rows went in
// (RETURNING id; a concurrent insert of the same id waits for the other
// transaction and is then skipped). MySQL cannot: insertUsage looks up
// which ids are present, inserts the others ignoring duplicates, and
// reports ErrRaced when fewer rows went in than it looked for (a
// concurrent writer stored some of them after the look-up, and counting
// them here would count them twice).
func insertUsage(ctx context.Context, tx *sql.Tx, d db.DialectName, events []Event) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if d != db.MySQL {
		return insertUsageReturning(ctx, tx, d, events)
	}
	present, err := presentIDs(ctx, tx, d, TableUsage, events)
	if err != nil {
		return nil, err
	}
	fresh := make([]Event, 0, len(events))
	rows := make([][]any, 0, len(events))
	for _, e := range events {
		if _, ok := present[e.ID]; ok {
			continue
		}
		row, err := usageRow(e)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, e)
		rows = append(rows, row)
	}
	n, err := insertIgnore(ctx, tx, d, TableUsage, usageColumns, rows)
	if err != nil {
		return nil, err
	}
	if n != int64(len(rows)) {
		return nil, ErrRaced
	}
	return fresh, nil
}

// insertUsageReturning is insertUsage on Postgres and SQLite.
func insertUsageReturning(ctx context.Context, tx *sql.Tx, d db.DialectName, events []Event) ([]Event, error) {
	rows := make([][]any, len(events))
	for i, e := range events {
		row, err := usageRow(e)
		if err != nil {
			return nil, err
		}
		rows[i] = row
	}
	inserted := make(map[string]struct{}, len(events))
	perStmt := maxParams / len(usageColumns)
	for start := 0; start < len(rows); start += perStmt {
		q, args := valuesStatement(d, "INSERT INTO "+TableUsage, usageColumns, rows[start:min(start+perStmt, len(rows))])
		res, err := tx.QueryContext(ctx, q+" ON CONFLICT (id) DO NOTHING RETURNING id", args...)
		if err != nil {
			return nil, fmt.Errorf("admin: persist: insert into %s: %w", TableUsage, err)
		}
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				res.Close()
				return nil, fmt.Errorf("admin: persist: insert into %s: %w", TableUsage, err)
			}
			inserted[id] = struct{}{}
		}
		if err := res.Close(); err != nil {
			return nil, fmt.Errorf("admin: persist: insert into %s: %w", TableUsage, err)
		}
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("admin: persist: insert into %s: %w", TableUsage, err)
		}
	}
	fresh := make([]Event, 0, len(inserted))
	for _, e := range events {
		if _, ok := inserted[e.ID]; ok {
			fresh = append(fresh, e)
		}
	}
	return fresh, nil
}

// usageRow is the usage_events row of e, in usageColumns' order.
func usageRow(e Event) ([]any, error) {
	metrics := []byte("{}")
	if len(e.Metrics) > 0 {
		b, err := json.Marshal(e.Metrics)
		if err != nil {
			return nil, fmt.Errorf("admin: persist: metrics of event %s: %w", e.ID, err)
		}
		metrics = b
	}
	return []any{e.ID, e.App, string(e.Kind), e.Method, e.Route, e.Status, e.LatencyUS,
		e.BytesIn, e.BytesOut, e.UserID, e.WorkspaceID, e.APIKeyID, string(metrics), db.FormatTime(e.Time)}, nil
}

// presentIDs returns which of the events' ids table already holds.
func presentIDs(ctx context.Context, tx *sql.Tx, d db.DialectName, table string, events []Event) (map[string]struct{}, error) {
	present := map[string]struct{}{}
	for start := 0; start < len(events); start += maxParams {
		chunk := events[start:min(start+maxParams, len(events))]
		var b strings.Builder
		b.WriteString("SELECT id FROM " + table + " WHERE id IN (")
		args := make([]any, len(chunk))
		for i, e := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(d.Placeholder(i + 1))
			args[i] = e.ID
		}
		b.WriteByte(')')
		rows, err := tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("admin: persist: look up ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("admin: persist: look up ids: %w", err)
			}
			present[id] = struct{}{}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("admin: persist: look up ids: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("admin: persist: look up ids: %w", err)
		}
	}
	return present, nil
}

// aggKey is one row of usage_aggregates.
type aggKey struct{ app, workspace, user, metric, period string }

// addAggregates adds the events' counts to usage_aggregates: 1 to
// "requests" per request event, each metric of a usage event, for the
// event's day and month (UTC). Rows are written in key order, so that
// concurrent writers lock them in the same order.
func addAggregates(ctx context.Context, tx *sql.Tx, d db.DialectName, events []Event) error {
	sums := map[aggKey]int64{}
	add := func(e Event, metric string, v int64) {
		t := e.Time.UTC()
		for _, period := range []string{t.Format("2006-01-02"), t.Format("2006-01")} {
			sums[aggKey{e.App, e.WorkspaceID, e.UserID, metric, period}] += v
		}
	}
	for _, e := range events {
		switch e.Kind {
		case KindRequest:
			add(e, MetricRequests, 1)
		case KindUsage:
			for m, v := range e.Metrics {
				if m != "" && v != 0 {
					add(e, m, v)
				}
			}
		}
	}
	if len(sums) == 0 {
		return nil
	}
	keys := make([]aggKey, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.app, k.workspace, k.user, k.metric, k.period, sums[k]}
	}
	perStmt := maxParams / len(aggColumns)
	for start := 0; start < len(rows); start += perStmt {
		chunk := rows[start:min(start+perStmt, len(rows))]
		q, args := valuesStatement(d, "INSERT INTO "+TableAggregates, aggColumns, chunk)
		if d == db.MySQL {
			q += " ON DUPLICATE KEY UPDATE value = value + VALUES(value)"
		} else {
			q += " ON CONFLICT (app, workspace_id, user_id, metric, period) DO UPDATE SET value = " + TableAggregates + ".value + excluded.value"
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("admin: persist: add to %s: %w", TableAggregates, err)
		}
	}
	return nil
}

func (a aggKey) less(b aggKey) bool {
	if a.app != b.app {
		return a.app < b.app
	}
	if a.workspace != b.workspace {
		return a.workspace < b.workspace
	}
	if a.user != b.user {
		return a.user < b.user
	}
	if a.metric != b.metric {
		return a.metric < b.metric
	}
	return a.period < b.period
}

// insertIgnore inserts rows into table with multi-row statements, skipping
// rows whose id is already there, and returns how many went in.
func insertIgnore(ctx context.Context, tx *sql.Tx, d db.DialectName, table string, columns []string, rows [][]any) (int64, error) {
	var total int64
	perStmt := maxParams / len(columns)
	for start := 0; start < len(rows); start += perStmt {
		chunk := rows[start:min(start+perStmt, len(rows))]
		verb := "INSERT INTO "
		if d == db.MySQL {
			verb = "INSERT IGNORE INTO "
		}
		q, args := valuesStatement(d, verb+table, columns, chunk)
		if d != db.MySQL {
			q += " ON CONFLICT (id) DO NOTHING"
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("admin: persist: insert into %s: %w", table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("admin: persist: insert into %s: %w", table, err)
		}
		total += n
	}
	return total, nil
}

// valuesStatement is head (columns) VALUES (...), (...) with a placeholder
// per value, and the values in order.
func valuesStatement(d db.DialectName, head string, columns []string, rows [][]any) (string, []any) {
	var b strings.Builder
	b.Grow(len(head) + 16*len(columns) + len(rows)*len(columns)*5)
	b.WriteString(head)
	b.WriteString(" (")
	b.WriteString(strings.Join(columns, ", "))
	b.WriteString(") VALUES ")
	args := make([]any, 0, len(rows)*len(columns))
	n := 0
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j, v := range r {
			if j > 0 {
				b.WriteByte(',')
			}
			n++
			b.WriteString(d.Placeholder(n))
			args = append(args, v)
		}
		b.WriteByte(')')
	}
	return b.String(), args
}
