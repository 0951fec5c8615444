package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"appkernel/db"
)

// queryError is the type of ErrInvalidQuery: a client mistake, 400.
type queryError struct{}

func (queryError) Error() string     { return "admin: invalid query" }
func (queryError) HTTPStatus() int   { return http.StatusBadRequest }
func (queryError) ErrorCode() string { return "invalid_query" }

// ErrInvalidQuery is returned, wrapped with the reason, for a query the
// admin reads refuse: a period that is not YYYY-MM or YYYY-MM-DD, a
// negative limit, a cursor they did not give out. Over HTTP it is 400
// "invalid_query".
var ErrInvalidQuery error = queryError{}

// Audit query limits.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 500
)

// AuditQuery selects audit entries; every empty field matches everything.
type AuditQuery struct {
	App         string
	Entity      string // the entity's table
	EntityID    string
	UserID      string
	WorkspaceID string
	Since       time.Time // inclusive; zero: no lower bound
	Until       time.Time // exclusive; zero: no upper bound
	// Limit is the page size. Defaults to DefaultAuditLimit (50); more
	// than MaxAuditLimit (500) reads MaxAuditLimit.
	Limit int
	// Cursor continues after the last entry of a previous page (its
	// NextCursor); "" starts at the newest.
	Cursor string
}

// AuditEntry is one stored audit event.
type AuditEntry struct {
	ID          string                 `json:"id"`
	App         string                 `json:"app"`
	Action      string                 `json:"action"`
	Entity      string                 `json:"entity"`
	EntityID    string                 `json:"entity_id"`
	Changes     map[string]FieldChange `json:"changes"`
	UserID      string                 `json:"user_id"`
	APIKeyID    string                 `json:"api_key_id"`
	WorkspaceID string                 `json:"workspace_id"`
	RequestID   string                 `json:"request_id"`
	CreatedAt   time.Time              `json:"created_at"`
}

// AuditPage is one page of AuditLogs, newest first. NextCursor continues
// with older entries; it is "" on the last page.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor"`
}

// AuditLogs returns the audit entries of adminDB that q selects, newest
// first, a page at a time. Pages are cut on (created_at, id), so paging
// neither skips nor repeats entries written in the same microsecond, and
// entries written meanwhile do not shift later pages.
func AuditLogs(ctx context.Context, adminDB *db.Store, q AuditQuery) (AuditPage, error) {
	limit := q.Limit
	switch {
	case limit < 0:
		return AuditPage{}, fmt.Errorf("%w: limit %d is negative", ErrInvalidQuery, limit)
	case limit == 0:
		limit = DefaultAuditLimit
	case limit > MaxAuditLimit:
		limit = MaxAuditLimit
	}
	s := newSQLBuilder(adminDB.Dialect())
	var where []string
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+s.arg(v))
		}
	}
	eq("app", q.App)
	eq("entity", q.Entity)
	eq("entity_id", q.EntityID)
	eq("user_id", q.UserID)
	eq("workspace_id", q.WorkspaceID)
	if !q.Since.IsZero() {
		where = append(where, "created_at >= "+s.arg(db.FormatTime(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "created_at < "+s.arg(db.FormatTime(q.Until)))
	}
	if q.Cursor != "" {
		at, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return AuditPage{}, err
		}
		where = append(where, "(created_at < "+s.arg(at)+" OR (created_at = "+s.arg(at)+" AND id < "+s.arg(id)+"))")
	}
	query := "SELECT id, app, action, entity, entity_id, changes, user_id, api_key_id, workspace_id, request_id, created_at FROM " + TableAudit
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT " + strconv.Itoa(limit+1)

	rows, err := adminDB.DB().QueryContext(ctx, query, s.args...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("admin: read audit logs: %w", err)
	}
	defer rows.Close()
	page := AuditPage{Entries: []AuditEntry{}}
	var lastAt string
	for rows.Next() {
		var e AuditEntry
		var changes, at string
		if err := rows.Scan(&e.ID, &e.App, &e.Action, &e.Entity, &e.EntityID, &changes,
			&e.UserID, &e.APIKeyID, &e.WorkspaceID, &e.RequestID, &at); err != nil {
			return AuditPage{}, fmt.Errorf("admin: read audit logs: %w", err)
		}
		if len(page.Entries) == limit {
			page.NextCursor = encodeCursor(lastAt, page.Entries[limit-1].ID)
			break
		}
		if changes != "" {
			if err := json.Unmarshal([]byte(changes), &e.Changes); err != nil {
				return AuditPage{}, fmt.Errorf("admin: audit entry %s: changes: %w", e.ID, err)
			}
		}
		if e.CreatedAt, err = time.Parse(db.TimeFormat, at); err != nil {
			return AuditPage{}, fmt.Errorf("admin: audit entry %s: created_at: %w", e.ID, err)
		}
		lastAt = at
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return AuditPage{}, fmt.Errorf("admin: read audit logs: %w", err)
	}
	return page, nil
}

// PurgeAudit deletes the audit entries created before before and returns
// how many it deleted. Usage (billing data) is never purged by the kernel.
func PurgeAudit(ctx context.Context, adminDB *db.Store, before time.Time) (int64, error) {
	s := newSQLBuilder(adminDB.Dialect())
	res, err := adminDB.DB().ExecContext(ctx, "DELETE FROM "+TableAudit+" WHERE created_at < "+s.arg(db.FormatTime(before)), s.args...)
	if err != nil {
		return 0, fmt.Errorf("admin: purge audit logs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("admin: purge audit logs: %w", err)
	}
	return n, nil
}

// Usage returns the usage of a workspace of app in period ("2026-12" for
// a month, "2026-12-06" for a day, UTC) per metric, summed over its users,
// from the aggregates the admin worker keeps. MetricRequests is always in
// the map (0 without requests). workspaceID "" reads the usage of requests
// that had no workspace (anonymous ones). A malformed period is
// ErrInvalidQuery.
func Usage(ctx context.Context, adminDB *db.Store, app, workspaceID, period string) (map[string]int64, error) {
	if err := ValidPeriod(period); err != nil {
		return nil, err
	}
	s := newSQLBuilder(adminDB.Dialect())
	query := "SELECT metric, SUM(value) FROM " + TableAggregates +
		" WHERE app = " + s.arg(app) + " AND workspace_id = " + s.arg(workspaceID) + " AND period = " + s.arg(period) +
		" GROUP BY metric"
	rows, err := adminDB.DB().QueryContext(ctx, query, s.args...)
	if err != nil {
		return nil, fmt.Errorf("admin: read usage: %w", err)
	}
	defer rows.Close()
	usage := map[string]int64{MetricRequests: 0}
	for rows.Next() {
		var metric string
		var sum int64
		if err := rows.Scan(&metric, &sum); err != nil {
			return nil, fmt.Errorf("admin: read usage: %w", err)
		}
		usage[metric] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("admin: read usage: %w", err)
	}
	return usage, nil
}

// usedInPeriod is one metric's usage of a workspace in period.
func usedInPeriod(ctx context.Context, adminDB *db.Store, app, workspaceID, metric, period string) (int64, error) {
	s := newSQLBuilder(adminDB.Dialect())
	query := "SELECT COALESCE(SUM(value), 0) FROM " + TableAggregates +
		" WHERE app = " + s.arg(app) + " AND workspace_id = " + s.arg(workspaceID) +
		" AND metric = " + s.arg(metric) + " AND period = " + s.arg(period)
	var used int64
	if err := adminDB.DB().QueryRowContext(ctx, query, s.args...).Scan(&used); err != nil {
		return 0, fmt.Errorf("admin: read usage: %w", err)
	}
	return used, nil
}

// MonthPeriod returns the month period ("2026-12") of t, in UTC.
func MonthPeriod(t time.Time) string { return t.UTC().Format("2006-01") }

// DayPeriod returns the day period ("2026-12-06") of t, in UTC.
func DayPeriod(t time.Time) string { return t.UTC().Format("2006-01-02") }

// ValidPeriod returns nil for a month ("2026-12") or a day ("2026-12-06"),
// else ErrInvalidQuery wrapped with the reason.
func ValidPeriod(period string) error {
	layout := "2006-01"
	if len(period) == len("2006-01-02") {
		layout = "2006-01-02"
	}
	if t, err := time.Parse(layout, period); err != nil || t.Format(layout) != period {
		return fmt.Errorf("%w: period %q must be a month (2026-12) or a day (2026-12-06)", ErrInvalidQuery, period)
	}
	return nil
}

// sqlBuilder collects a statement's arguments and writes each one's
// placeholder in the admin database's dialect.
type sqlBuilder struct {
	dialect db.DialectName
	args    []any
}

func newSQLBuilder(d db.DialectName) *sqlBuilder { return &sqlBuilder{dialect: d} }

// arg adds v and returns its placeholder.
func (s *sqlBuilder) arg(v any) string {
	s.args = append(s.args, v)
	return s.dialect.Placeholder(len(s.args))
}

// A cursor is the (created_at, id) of a page's last entry, base64url.
func encodeCursor(at, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at + id))
}

func decodeCursor(c string) (at, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	n := len(db.TimeFormat)
	if err == nil && len(b) > n {
		at, id = string(b[:n]), string(b[n:])
		if _, perr := time.Parse(db.TimeFormat, at); perr == nil {
			return at, id, nil
		}
	}
	return "", "", fmt.Errorf("%w: cursor %q is not one AuditLogs returned", ErrInvalidQuery, c)
}
