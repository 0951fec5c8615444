package admin

import (
	"context"
	"fmt"

	"appkernel/db"
)

// The admin database's tables. They are plain SQL tables, not entities of
// the store: the worker writes them in batches with idempotent inserts and
// additive upserts, which the entity API does not express.
//
//	audit_logs        one row per audit event; id is the event id
//	usage_events      one row per metered request or TrackUsage call; id is the event id
//	usage_aggregates  sums per app, workspace, user, metric and period
//
// Timestamps are text in db.TimeFormat (fixed-width UTC, so text order is
// time order). Absent ids (no user, no workspace, no key) are "".
// A period is a month ("2026-12") or a day ("2026-12-06").
const (
	TableAudit      = "audit_logs"
	TableUsage      = "usage_events"
	TableAggregates = "usage_aggregates"
)

// MetricRequests is the usage metric every metered request adds 1 to.
const MetricRequests = "requests"

// Migrate creates the admin tables and their indexes in store when they
// are missing. It is safe to call from several processes at once.
func Migrate(ctx context.Context, store *db.Store) error {
	for _, stmt := range schema(store.Dialect()) {
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if _, err = store.DB().ExecContext(ctx, stmt); err == nil || !isCreateRace(err) {
				break
			}
		}
		if err != nil {
			if store.Dialect() == db.MySQL && isDuplicateIndex(err) {
				continue
			}
			return fmt.Errorf("admin: create tables: %w", err)
		}
	}
	return nil
}

func schema(d db.DialectName) []string {
	// Types per dialect: short keyed text, long text, 64-bit integers.
	// metric and period are shorter keys: MySQL bounds a key to 3072 bytes,
	// and usage_aggregates' primary key has five columns.
	key, text, big, metric, period := "TEXT", "TEXT", "INTEGER", "TEXT", "TEXT"
	switch d {
	case db.Postgres:
		key, big, metric, period = "VARCHAR(191)", "BIGINT", "VARCHAR(128)", "VARCHAR(16)"
	case db.MySQL:
		key, text, big, metric, period = "VARCHAR(191)", "LONGTEXT", "BIGINT", "VARCHAR(128)", "VARCHAR(16)"
	}
	ifNotExists := " IF NOT EXISTS"
	if d == db.MySQL {
		ifNotExists = "" // MariaDB has it, MySQL 8 does not: duplicates are ignored instead
	}
	idx := func(name, table, cols string) string {
		return "CREATE INDEX" + ifNotExists + " " + name + " ON " + table + " (" + cols + ")"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + TableAudit + ` (
			id ` + key + ` NOT NULL PRIMARY KEY,
			app ` + key + ` NOT NULL,
			action ` + key + ` NOT NULL,
			entity ` + key + ` NOT NULL,
			entity_id ` + key + ` NOT NULL,
			changes ` + text + ` NOT NULL,
			user_id ` + key + ` NOT NULL,
			api_key_id ` + key + ` NOT NULL,
			workspace_id ` + key + ` NOT NULL,
			request_id ` + key + ` NOT NULL,
			created_at ` + key + ` NOT NULL)`,
		idx("audit_logs_app_created", TableAudit, "app, created_at"),
		idx("audit_logs_entity", TableAudit, "entity, entity_id, created_at"),
		idx("audit_logs_user", TableAudit, "user_id, created_at"),
		idx("audit_logs_workspace", TableAudit, "workspace_id, created_at"),
		`CREATE TABLE IF NOT EXISTS ` + TableUsage + ` (
			id ` + key + ` NOT NULL PRIMARY KEY,
			app ` + key + ` NOT NULL,
			kind ` + key + ` NOT NULL,
			method ` + key + ` NOT NULL,
			route ` + key + ` NOT NULL,
			status ` + big + ` NOT NULL,
			latency_us ` + big + ` NOT NULL,
			bytes_in ` + big + ` NOT NULL,
			bytes_out ` + big + ` NOT NULL,
			user_id ` + key + ` NOT NULL,
			workspace_id ` + key + ` NOT NULL,
			api_key_id ` + key + ` NOT NULL,
			metrics ` + text + ` NOT NULL,
			created_at ` + key + ` NOT NULL)`,
		idx("usage_events_app_created", TableUsage, "app, created_at"),
		`CREATE TABLE IF NOT EXISTS ` + TableAggregates + ` (
			app ` + key + ` NOT NULL,
			workspace_id ` + key + ` NOT NULL,
			user_id ` + key + ` NOT NULL,
			metric ` + metric + ` NOT NULL,
			period ` + period + ` NOT NULL,
			value ` + big + ` NOT NULL,
			PRIMARY KEY (app, workspace_id, user_id, metric, period))`,
		idx("usage_aggregates_ws_period", TableAggregates, "app, workspace_id, period, metric"),
	}
}
