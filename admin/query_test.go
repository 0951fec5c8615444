package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"appkernel/admin"
	"appkernel/db"
)

// queryExec runs a statement written with ? placeholders on any dialect.
func queryExec(t *testing.T, store *db.Store, stmt string, args ...any) {
	t.Helper()
	if store.Dialect() == db.Postgres {
		n := 0
		var b strings.Builder
		for _, c := range stmt {
			if c == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(c)
		}
		stmt = b.String()
	}
	if _, err := store.DB().ExecContext(context.Background(), stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

type auditFixture struct {
	id, app, entity, entityID, user, workspace string
	at                                         time.Time
}

func insertAudit(t *testing.T, store *db.Store, f auditFixture) {
	t.Helper()
	queryExec(t, store, "INSERT INTO "+admin.TableAudit+
		" (id, app, action, entity, entity_id, changes, user_id, api_key_id, workspace_id, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		f.id, f.app, "update", f.entity, f.entityID, `{"name":{"old":"a","new":"b"}}`, f.user, "", f.workspace, "req-"+f.id, db.FormatTime(f.at))
}

func insertAggregate(t *testing.T, store *db.Store, app, workspace, user, metric, period string, value int64) {
	t.Helper()
	queryExec(t, store, "INSERT INTO "+admin.TableAggregates+" (app, workspace_id, user_id, metric, period, value) VALUES (?, ?, ?, ?, ?, ?)",
		app, workspace, user, metric, period, value)
}

func auditIDs(es []admin.AuditEntry) string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return strings.Join(ids, ",")
}

func TestAuditLogsFiltersAndPages(t *testing.T) {
	queryDialects(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
		// a1..a3 at distinct times; b1..b7 all at one instant (ties broken by id).
		insertAudit(t, store, auditFixture{"a1", "app", "widgets", "w1", "u1", "ws1", t0})
		insertAudit(t, store, auditFixture{"a2", "app", "widgets", "w2", "u2", "ws1", t0.Add(time.Minute)})
		insertAudit(t, store, auditFixture{"a3", "other", "widgets", "w1", "u1", "ws2", t0.Add(2 * time.Minute)})
		for i := 1; i <= 7; i++ {
			insertAudit(t, store, auditFixture{"b" + strconv.Itoa(i), "app", "orders", "o" + strconv.Itoa(i), "u3", "ws3", t0.Add(time.Hour)})
		}

		page, err := admin.AuditLogs(ctx, store, admin.AuditQuery{App: "app", Entity: "widgets"})
		if err != nil {
			t.Fatal(err)
		}
		if got := auditIDs(page.Entries); got != "a2,a1" || page.NextCursor != "" {
			t.Fatalf("app+entity: %s (cursor %q), want a2,a1 and no cursor", got, page.NextCursor)
		}
		e := page.Entries[1]
		if e.Action != "update" || e.EntityID != "w1" || e.UserID != "u1" || e.WorkspaceID != "ws1" || e.RequestID != "req-a1" ||
			!e.CreatedAt.Equal(t0) || e.Changes["name"].Old != "a" || e.Changes["name"].New != "b" {
			t.Fatalf("entry %+v", e)
		}

		for _, c := range []struct {
			q    admin.AuditQuery
			want string
		}{
			{admin.AuditQuery{EntityID: "w1"}, "a3,a1"},
			{admin.AuditQuery{UserID: "u2"}, "a2"},
			{admin.AuditQuery{WorkspaceID: "ws2"}, "a3"},
			{admin.AuditQuery{Entity: "widgets", Since: t0.Add(time.Minute)}, "a3,a2"},
			{admin.AuditQuery{Entity: "widgets", Until: t0.Add(time.Minute)}, "a1"},
			{admin.AuditQuery{App: "nobody"}, ""},
		} {
			page, err := admin.AuditLogs(ctx, store, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := auditIDs(page.Entries); got != c.want {
				t.Fatalf("%+v: %s, want %s", c.q, got, c.want)
			}
		}

		// Pages of 3 over equal timestamps: every entry once, newest first.
		var all []string
		q := admin.AuditQuery{App: "app", Limit: 3}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			page, err := admin.AuditLogs(ctx, store, q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, auditIDs(page.Entries))
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if got := strings.Join(all, "|"); got != "b7,b6,b5|b4,b3,b2|b1,a2,a1" {
			t.Fatalf("pages %s", got)
		}

		// A row written between two page reads at the same instant, with an
		// id before the cursor's, lands on a later page, never twice.
		page, err = admin.AuditLogs(ctx, store, admin.AuditQuery{Entity: "orders", Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		insertAudit(t, store, auditFixture{"b0", "app", "orders", "o0", "u3", "ws3", t0.Add(time.Hour)})
		insertAudit(t, store, auditFixture{"b9", "app", "orders", "o9", "u3", "ws3", t0.Add(time.Hour)})
		next, err := admin.AuditLogs(ctx, store, admin.AuditQuery{Entity: "orders", Limit: 10, Cursor: page.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		if got := auditIDs(page.Entries) + "|" + auditIDs(next.Entries); got != "b7,b6,b5,b4|b3,b2,b1,b0" {
			t.Fatalf("pages around a concurrent insert: %s", got)
		}

		for _, bad := range []admin.AuditQuery{{Limit: -1}, {Cursor: "not a cursor"}, {Cursor: "YWJj"}} {
			if _, err := admin.AuditLogs(ctx, store, bad); !errors.Is(err, admin.ErrInvalidQuery) {
				t.Fatalf("%+v: %v, want ErrInvalidQuery", bad, err)
			}
		}
		// The limit is capped, not refused.
		if page, err := admin.AuditLogs(ctx, store, admin.AuditQuery{Limit: 100000}); err != nil || len(page.Entries) != 12 {
			t.Fatalf("limit over the cap: %d entries, %v", len(page.Entries), err)
		}
	})
}

func TestPurgeAudit(t *testing.T) {
	queryDialects(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := range 5 {
			insertAudit(t, store, auditFixture{fmt.Sprint("p", i), "app", "widgets", "w", "u", "ws", t0.AddDate(0, 0, i)})
		}
		n, err := admin.PurgeAudit(ctx, store, t0.AddDate(0, 0, 3))
		if err != nil || n != 3 {
			t.Fatalf("PurgeAudit: %d, %v; want 3", n, err)
		}
		page, err := admin.AuditLogs(ctx, store, admin.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := auditIDs(page.Entries); got != "p4,p3" {
			t.Fatalf("after purge: %s, want p4,p3", got)
		}
	})
}

func TestUsageSumsOverUsers(t *testing.T) {
	queryDialects(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		for _, p := range []string{"2026-12", "2026-12-06"} {
			insertAggregate(t, store, "app", "ws1", "u1", "requests", p, 10)
			insertAggregate(t, store, "app", "ws1", "u2", "requests", p, 5)
			insertAggregate(t, store, "app", "ws1", "u1", "tokens", p, 3000000000) // past 32 bits
			insertAggregate(t, store, "app", "ws2", "u1", "requests", p, 100)      // another workspace
			insertAggregate(t, store, "other", "ws1", "u1", "requests", p, 100)    // another app
		}
		insertAggregate(t, store, "app", "ws1", "u1", "requests", "2026-12-07", 1)

		month, err := admin.Usage(ctx, store, "app", "ws1", "2026-12")
		if err != nil {
			t.Fatal(err)
		}
		if len(month) != 2 || month["requests"] != 15 || month["tokens"] != 3000000000 {
			t.Fatalf("month usage %v", month)
		}
		day, err := admin.Usage(ctx, store, "app", "ws1", "2026-12-07")
		if err != nil || len(day) != 1 || day["requests"] != 1 {
			t.Fatalf("day usage %v, %v", day, err)
		}
		empty, err := admin.Usage(ctx, store, "app", "ws9", "2026-11")
		if err != nil || len(empty) != 1 || empty["requests"] != 0 {
			t.Fatalf("usage without rows: %v, %v; want requests 0", empty, err)
		}
		for _, bad := range []string{"", "2026", "2026-13", "2026-1", "2026-12-32", "2026-12-06T00", "12-2026", "2026-12-6"} {
			if _, err := admin.Usage(ctx, store, "app", "ws1", bad); !errors.Is(err, admin.ErrInvalidQuery) {
				t.Fatalf("period %q: %v, want ErrInvalidQuery", bad, err)
			}
		}
	})
}

func TestCheckQuota(t *testing.T) {
	queryDialects(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		month := admin.MonthPeriod(time.Now())
		insertAggregate(t, store, "app", "ws1", "u1", "tokens", month, 600)
		insertAggregate(t, store, "app", "ws1", "u2", "tokens", month, 400)
		insertAggregate(t, store, "app", "ws1", "u1", "tokens", "2020-01", 99999)                  // an old month does not count
		insertAggregate(t, store, "app", "ws1", "u1", "tokens", admin.DayPeriod(time.Now()), 1000) // nor the day row

		for _, c := range []struct {
			ws    string
			limit int64
			want  bool
		}{{"ws1", 1001, true}, {"ws1", 1000, false}, {"ws1", 10, false}, {"ws2", 1, true}, {"ws2", 0, false}} {
			ok, err := admin.CheckQuota(ctx, store, "app", c.ws, "tokens", c.limit)
			if err != nil || ok != c.want {
				t.Fatalf("CheckQuota(%s, %d) = %v, %v; want %v", c.ws, c.limit, ok, err, c.want)
			}
		}

		// Quotas caches the figure: a change shows after the TTL only.
		q := admin.NewQuotas(store, time.Hour)
		if ok, err := q.Check(ctx, "app", "ws1", "tokens", 1001); err != nil || !ok {
			t.Fatalf("Quotas.Check: %v, %v", ok, err)
		}
		insertAggregate(t, store, "app", "ws1", "u3", "tokens", month, 1)
		if used, err := q.Used(ctx, "app", "ws1", "tokens"); err != nil || used != 1000 {
			t.Fatalf("cached Used = %d, %v; want 1000", used, err)
		}
		if ok, _ := admin.CheckQuota(ctx, store, "app", "ws1", "tokens", 1001); ok {
			t.Fatal("CheckQuota (uncached) does not see the new row")
		}
		fresh := admin.NewQuotas(store, 0)
		if used, err := fresh.Used(ctx, "app", "ws1", "tokens"); err != nil || used != 1001 {
			t.Fatalf("fresh Used = %d, %v; want 1001", used, err)
		}
	})
}
