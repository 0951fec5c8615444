package db_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

// BenchmarkStore compares each hot path of the store with the best
// hand-written database/sql doing the same work on the same database, in
// the same run. Sub-benchmarks are named db=<dialect>/op=<op>/impl=<kernel|raw>,
// so
//
//	go test -run '^$' -bench BenchmarkStore -count 6 ./db/ > bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl bench.txt
//
// prints the ratio per dialect and operation.
//
// Like with like: get and find100 read one shared table that no write
// touches; insert and update each start from a table of their own with the
// same contents (empty, or the same 200 rows) on both sides. The raw side
// prepares every statement once and scans into typed values. Every
// benchmark checks what it did (the row it read, the 100 rows in the same
// order, the rows and history rows written) and fails otherwise.
func BenchmarkStore(b *testing.B) {
	b.Run("db=sqlite", func(b *testing.B) { benchStore(b, dbtest.FreshSQLite(b)) })
	b.Run("db=postgres", func(b *testing.B) {
		benchStore(b, dbtest.FreshPostgres(b, testenv.PostgresURL(b)))
	})
	b.Run("db=mysql", func(b *testing.B) {
		benchStore(b, dbtest.FreshMySQL(b, testenv.MySQLURL(b)))
	})
}

// benchRow is a row of the benchmark tables, as the raw side reads and
// snapshots it.
type benchRow struct {
	ID        string  `json:"id"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	DeletedAt *string `json:"deleted_at"`
	Name      string  `json:"name"`
	N         int64   `json:"n"`
	F         float64 `json:"f"`
	OK        bool    `json:"ok"`
}

func (r *benchRow) ptrs() []any {
	return []any{&r.ID, &r.CreatedAt, &r.UpdatedAt, &r.DeletedAt, &r.Name, &r.N, &r.F, &r.OK}
}

// rawSQL is the hand-written side for one table: the store's SQL written
// out with explicit columns, each statement prepared once.
type rawSQL struct {
	db                                                          *sql.DB
	insert, history, lock, update, historyNext, getOne, findAll *sql.Stmt
}

func newRaw(ctx context.Context, s *db.Store, table string) (*rawSQL, error) {
	d := s.Dialect()
	quote := func(name string) string {
		if d == db.MySQL {
			return "`" + name + "`"
		}
		return `"` + name + `"`
	}
	q := func(text string) string { // ? -> $n on Postgres
		if d != db.Postgres {
			return text
		}
		var b strings.Builder
		n := 0
		for _, c := range text {
			if c == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	lock := ""
	if d != db.SQLite {
		lock = " FOR UPDATE"
	}
	t, h := quote(table), quote(table+"_history")
	cols := "id, created_at, updated_at, deleted_at, name, n, f, ok"
	r := &rawSQL{db: s.DB()}
	for _, st := range []struct {
		dst  **sql.Stmt
		text string
	}{
		{&r.insert, "INSERT INTO " + t + " (id, created_at, updated_at, f, n, name, ok) VALUES (?, ?, ?, ?, ?, ?, ?)"},
		{&r.history, "INSERT INTO " + h + " (entity_id, version, op, data, changed_at) VALUES (?, 1, ?, ?, ?)"},
		{&r.lock, "SELECT " + cols + " FROM " + t + " WHERE id = ?" + lock},
		{&r.update, "UPDATE " + t + " SET name = ?, updated_at = ? WHERE id = ?"},
		{&r.historyNext, "INSERT INTO " + h + " (entity_id, version, op, data, changed_at) SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM " + h + " WHERE entity_id = ?"},
		{&r.getOne, "SELECT " + cols + " FROM " + t + " WHERE id = ? AND deleted_at IS NULL"},
		{&r.findAll, "SELECT " + cols + " FROM " + t + " WHERE (n >= ?) AND deleted_at IS NULL ORDER BY created_at ASC, id ASC LIMIT ? OFFSET ?"},
	} {
		var err error
		if *st.dst, err = r.db.PrepareContext(ctx, q(st.text)); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

func (r *rawSQL) close() {
	for _, st := range []*sql.Stmt{r.insert, r.history, r.lock, r.update, r.historyNext, r.getOne, r.findAll} {
		if st != nil {
			st.Close()
		}
	}
}

func now() string { return time.Now().UTC().Format(db.TimeFormat) }

func (r *rawSQL) create(ctx context.Context, name string, n int64, f float64, ok bool) (string, error) {
	ts := now()
	row := benchRow{ID: uuid.Must(uuid.NewV7()).String(), CreatedAt: ts, UpdatedAt: ts, Name: name, N: n, F: f, OK: ok}
	data, err := json.Marshal(row)
	if err != nil {
		return "", err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, r.insert).ExecContext(ctx, row.ID, ts, ts, f, n, name, ok); err != nil {
		return "", err
	}
	if _, err := tx.StmtContext(ctx, r.history).ExecContext(ctx, row.ID, "create", string(data), ts); err != nil {
		return "", err
	}
	return row.ID, tx.Commit()
}

func (r *rawSQL) rename(ctx context.Context, id, name string) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var row benchRow
	if err := tx.StmtContext(ctx, r.lock).QueryRowContext(ctx, id).Scan(row.ptrs()...); err != nil {
		return fmt.Errorf("read old row: %w", err)
	}
	ts := now()
	if _, err := tx.StmtContext(ctx, r.update).ExecContext(ctx, name, ts, id); err != nil {
		return err
	}
	row.Name, row.UpdatedAt = name, ts
	data, err := json.Marshal(row)
	if err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, r.historyNext).ExecContext(ctx, id, "update", string(data), ts, id); err != nil {
		return err
	}
	return tx.Commit()
}

func (r *rawSQL) get(ctx context.Context, id string) (benchRow, error) {
	var row benchRow
	err := r.getOne.QueryRowContext(ctx, id).Scan(row.ptrs()...)
	return row, err
}

func (r *rawSQL) find(ctx context.Context, min int64) ([]benchRow, error) {
	rows, err := r.findAll.QueryContext(ctx, min, 100, 0)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]benchRow, 0, 100)
	for rows.Next() {
		var row benchRow
		if err := rows.Scan(row.ptrs()...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// benchTables hands out the tables of one database's benchmarks.
type benchTables struct {
	s    *db.Store
	next int
}

// fresh returns a new empty table (and history table) of the benchmark
// shape, created by the store, and the raw side's statements for it.
func (bt *benchTables) fresh(b *testing.B, ctx context.Context, prefix string) (string, *rawSQL) {
	b.Helper()
	bt.next++
	table := fmt.Sprintf("%s_%d", prefix, bt.next)
	if err := bt.s.EnsureColumns(ctx, table, db.Entity{"name": "x", "n": int64(0), "f": 0.5, "ok": true}); err != nil {
		b.Fatal(err)
	}
	raw, err := newRaw(ctx, bt.s, table)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(raw.close)
	return table, raw
}

// seed gives table n rows through the store and returns their ids.
func (bt *benchTables) seed(b *testing.B, ctx context.Context, table string, n int) []string {
	b.Helper()
	ids := make([]string, 0, n)
	err := bt.s.Tx(ctx, func(tx *db.Store) error {
		for i := range n {
			e, err := tx.SaveEntity(ctx, table, db.Entity{"name": "seed", "n": int64(i), "f": 1.5, "ok": true})
			if err != nil {
				return err
			}
			ids = append(ids, e["id"].(string))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// expectCount fails b unless the query counts want rows.
func expectCount(b *testing.B, ctx context.Context, s *db.Store, what, query string, want int) {
	b.Helper()
	var got int
	if err := s.DB().QueryRowContext(ctx, query).Scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("%s: %d rows, want %d (one per iteration)", what, got, want)
	}
}

func benchStore(b *testing.B, url string) {
	ctx := context.Background()
	s, err := db.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	bt := &benchTables{s: s}
	quote := func(name string) string {
		if s.Dialect() == db.MySQL {
			return "`" + name + "`"
		}
		return `"` + name + `"`
	}
	// written checks that table holds n rows and n history rows of op.
	written := func(b *testing.B, table, op string, rows, n int) {
		b.Helper()
		expectCount(b, ctx, s, table, "SELECT COUNT(*) FROM "+quote(table), rows)
		expectCount(b, ctx, s, table+" history", "SELECT COUNT(*) FROM "+quote(table+"_history")+" WHERE op = '"+op+"'", n)
	}

	// The reads: one table of 1,000 rows, read by both sides.
	readTable, readRaw := bt.fresh(b, ctx, "read")
	readIDs := bt.seed(b, ctx, readTable, 1000)
	first100, err := s.FindEntities(ctx, readTable, db.Query{Where: "[n] >= ?", Params: []any{0}, Limit: 100})
	if err != nil || len(first100) != 100 {
		b.Fatal(len(first100), err)
	}
	rawFirst100, err := readRaw.find(ctx, 0)
	if err != nil || len(rawFirst100) != 100 {
		b.Fatal(len(rawFirst100), err)
	}
	for i := range first100 {
		if first100[i]["id"] != rawFirst100[i].ID {
			b.Fatalf("find100: row %d is %v for the store, %s for raw SQL", i, first100[i]["id"], rawFirst100[i].ID)
		}
	}
	wantFirst, wantLast := rawFirst100[0].ID, rawFirst100[99].ID

	b.Run("op=insert/impl=kernel", func(b *testing.B) {
		table, _ := bt.fresh(b, ctx, "insert_kernel")
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, err := s.SaveEntity(ctx, table, db.Entity{"name": "bench", "n": int64(-1), "f": 2.5, "ok": false}); err != nil {
				b.Fatal(err)
			}
			n++
		}
		written(b, table, "create", n, n)
	})
	b.Run("op=insert/impl=raw", func(b *testing.B) {
		table, raw := bt.fresh(b, ctx, "insert_raw")
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, err := raw.create(ctx, "bench", -1, 2.5, false); err != nil {
				b.Fatal(err)
			}
			n++
		}
		written(b, table, "create", n, n)
	})
	b.Run("op=update/impl=kernel", func(b *testing.B) {
		table, _ := bt.fresh(b, ctx, "update_kernel")
		ids := bt.seed(b, ctx, table, 200)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, err := s.SaveEntity(ctx, table, db.Entity{"id": ids[n%len(ids)], "name": "upd"}); err != nil {
				b.Fatal(err)
			}
			n++
		}
		written(b, table, "update", len(ids), n)
	})
	b.Run("op=update/impl=raw", func(b *testing.B) {
		table, raw := bt.fresh(b, ctx, "update_raw")
		ids := bt.seed(b, ctx, table, 200)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if err := raw.rename(ctx, ids[n%len(ids)], "upd"); err != nil {
				b.Fatal(err)
			}
			n++
		}
		written(b, table, "update", len(ids), n)
	})
	b.Run("op=get/impl=kernel", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			id := readIDs[i%len(readIDs)]
			e, err := s.GetEntity(ctx, readTable, id)
			if err != nil || e["id"] != id {
				b.Fatalf("get %s: %v, %v", id, e["id"], err)
			}
		}
	})
	b.Run("op=get/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			id := readIDs[i%len(readIDs)]
			row, err := readRaw.get(ctx, id)
			if err != nil || row.ID != id {
				b.Fatalf("get %s: %v, %v", id, row.ID, err)
			}
		}
	})
	b.Run("op=find100/impl=kernel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			es, err := s.FindEntities(ctx, readTable, db.Query{Where: "[n] >= ?", Params: []any{0}, Limit: 100})
			if err != nil || len(es) != 100 || es[0]["id"] != wantFirst || es[99]["id"] != wantLast {
				b.Fatal(len(es), err)
			}
		}
	})
	b.Run("op=find100/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := readRaw.find(ctx, 0)
			if err != nil || len(rows) != 100 || rows[0].ID != wantFirst || rows[99].ID != wantLast {
				b.Fatal(len(rows), err)
			}
		}
	})
}
