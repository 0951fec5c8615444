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

// BenchmarkStore compares each hot path of the store with hand-written
// database/sql doing the same work on the same database, in the same run.
// Sub-benchmarks are named db=<dialect>/op=<op>/impl=<kernel|raw|rawprep>
// (raw sends statement text, as database/sql code usually does; rawprep
// prepares each statement once, as the store does), so
//
//	go test -run '^$' -bench BenchmarkStore -count 6 ./db/ > bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl bench.txt
//
// prints the ratio per dialect and operation.
func BenchmarkStore(b *testing.B) {
	b.Run("db=sqlite", func(b *testing.B) { benchStore(b, dbtest.FreshSQLite(b)) })
	b.Run("db=postgres", func(b *testing.B) {
		benchStore(b, dbtest.FreshPostgres(b, testenv.PostgresURL(b)))
	})
	b.Run("db=mysql", func(b *testing.B) {
		benchStore(b, dbtest.FreshMySQL(b, testenv.MySQLURL(b)))
	})
}

// rawSQL is the hand-written side: fixed SQL text, database/sql only.
type rawSQL struct {
	db    *sql.DB
	d     db.DialectName
	table string
	q     func(string) string // ? -> $n on Postgres
	lock  string
	stmts map[string]*sql.Stmt // prepared statements by text (the rawprep side)
}

// prepared is the same hand-written SQL, each statement prepared once on
// the pool and bound to each transaction with tx.StmtContext.
func (r *rawSQL) prepared(ctx context.Context) (*rawSQL, error) {
	p := *r
	p.stmts = map[string]*sql.Stmt{}
	for _, text := range []string{r.insertText(), r.historyText(), r.lockText(), r.updateText(), r.historyNextText(), r.getText(), r.findText()} {
		st, err := r.db.PrepareContext(ctx, text)
		if err != nil {
			return nil, err
		}
		p.stmts[text] = st
	}
	return &p, nil
}

func (r *rawSQL) close() {
	for _, st := range r.stmts {
		st.Close()
	}
}

func (r *rawSQL) txExec(ctx context.Context, tx *sql.Tx, text string, args ...any) (sql.Result, error) {
	if st := r.stmts[text]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, text, args...)
}

func (r *rawSQL) txQuery(ctx context.Context, tx *sql.Tx, text string, args ...any) (*sql.Rows, error) {
	if st := r.stmts[text]; st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, text, args...)
}

func (r *rawSQL) dbQuery(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	if st := r.stmts[text]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.db.QueryContext(ctx, text, args...)
}

func (r *rawSQL) insertText() string {
	return r.q("INSERT INTO " + r.ident(r.table) + " (id, created_at, updated_at, f, n, name, ok) VALUES (?, ?, ?, ?, ?, ?, ?)")
}

func (r *rawSQL) historyText() string {
	return r.q("INSERT INTO " + r.ident(r.table+"_history") + " (entity_id, version, op, data, changed_at) VALUES (?, 1, ?, ?, ?)")
}

func (r *rawSQL) lockText() string {
	return r.q("SELECT * FROM " + r.ident(r.table) + " WHERE id = ?" + r.lock)
}

func (r *rawSQL) updateText() string {
	return r.q("UPDATE " + r.ident(r.table) + " SET name = ?, updated_at = ? WHERE id = ?")
}

func (r *rawSQL) historyNextText() string {
	h := r.ident(r.table + "_history")
	return r.q("INSERT INTO " + h + " (entity_id, version, op, data, changed_at) SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM " + h + " WHERE entity_id = ?")
}

func (r *rawSQL) getText() string {
	return r.q("SELECT * FROM " + r.ident(r.table) + " WHERE id = ? AND deleted_at IS NULL")
}

func (r *rawSQL) findText() string {
	return r.q("SELECT * FROM " + r.ident(r.table) + " WHERE (n >= ?) AND deleted_at IS NULL ORDER BY created_at ASC, id ASC LIMIT ? OFFSET ?")
}

func newRaw(s *db.Store, table string) *rawSQL {
	r := &rawSQL{db: s.DB(), d: s.Dialect(), table: table, q: func(q string) string { return q }}
	if r.d == db.Postgres {
		r.q = func(q string) string {
			var b strings.Builder
			n := 0
			for _, c := range q {
				if c == '?' {
					n++
					b.WriteString("$" + strconv.Itoa(n))
				} else {
					b.WriteRune(c)
				}
			}
			return b.String()
		}
	}
	if r.d != db.SQLite {
		r.lock = " FOR UPDATE"
	}
	return r
}

func (r *rawSQL) ident(s string) string {
	if r.d == db.MySQL {
		return "`" + s + "`"
	}
	return `"` + s + `"`
}

func now() string { return time.Now().UTC().Format(db.TimeFormat) }

func (r *rawSQL) insert(ctx context.Context, name string, n int64, f float64, ok bool) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	ts := now()
	row := map[string]any{"id": id, "created_at": ts, "updated_at": ts, "deleted_at": nil, "name": name, "n": n, "f": f, "ok": ok}
	data, err := json.Marshal(row)
	if err != nil {
		return "", err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := r.txExec(ctx, tx, r.insertText(), id, ts, ts, f, n, name, ok); err != nil {
		return "", err
	}
	if _, err := r.txExec(ctx, tx, r.historyText(), id, "create", string(data), ts); err != nil {
		return "", err
	}
	return id, tx.Commit()
}

func scanMaps(rows *sql.Rows, hint int) ([]map[string]any, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := make([]map[string]any, 0, hint)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (r *rawSQL) update(ctx context.Context, id, name string) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := r.txQuery(ctx, tx, r.lockText(), id)
	if err != nil {
		return err
	}
	old, err := scanMaps(rows, 1)
	if err != nil || len(old) != 1 {
		return fmt.Errorf("read old row: %v", err)
	}
	ts := now()
	if _, err := r.txExec(ctx, tx, r.updateText(), name, ts, id); err != nil {
		return err
	}
	row := old[0]
	row["name"], row["updated_at"] = name, ts
	data, err := json.Marshal(row)
	if err != nil {
		return err
	}
	if _, err := r.txExec(ctx, tx, r.historyNextText(), id, "update", string(data), ts, id); err != nil {
		return err
	}
	return tx.Commit()
}

func (r *rawSQL) get(ctx context.Context, id string) (map[string]any, error) {
	rows, err := r.dbQuery(ctx, r.getText(), id)
	if err != nil {
		return nil, err
	}
	ms, err := scanMaps(rows, 1)
	if err != nil || len(ms) != 1 {
		return nil, fmt.Errorf("get: %v", err)
	}
	return ms[0], nil
}

func (r *rawSQL) find(ctx context.Context, min int64) ([]map[string]any, error) {
	rows, err := r.dbQuery(ctx, r.findText(), min, 100, 0)
	if err != nil {
		return nil, err
	}
	return scanMaps(rows, 100)
}

func benchStore(b *testing.B, url string) {
	ctx := context.Background()
	s, err := db.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	sample := db.Entity{"name": "x", "n": int64(0), "f": 0.5, "ok": true}
	// Both sides get the same table shape, created by the store.
	for _, t := range []string{"kernel_t", "raw_t"} {
		if err := s.EnsureColumns(ctx, t, sample); err != nil {
			b.Fatal(err)
		}
	}
	raw := newRaw(s, "raw_t")
	rawp, err := raw.prepared(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rawp.close)
	var kernelIDs, rawIDs []string
	for i := 0; i < 200; i++ {
		e, err := s.SaveEntity(ctx, "kernel_t", db.Entity{"name": "seed", "n": int64(i), "f": 1.5, "ok": true})
		if err != nil {
			b.Fatal(err)
		}
		kernelIDs = append(kernelIDs, e["id"].(string))
		id, err := raw.insert(ctx, "seed", int64(i), 1.5, true)
		if err != nil {
			b.Fatal(err)
		}
		rawIDs = append(rawIDs, id)
	}

	b.Run("op=insert/impl=kernel", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.SaveEntity(ctx, "kernel_t", db.Entity{"name": "bench", "n": int64(-1), "f": 2.5, "ok": false}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=insert/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := raw.insert(ctx, "bench", -1, 2.5, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=insert/impl=rawprep", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := rawp.insert(ctx, "bench", -1, 2.5, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=update/impl=kernel", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.SaveEntity(ctx, "kernel_t", db.Entity{"id": kernelIDs[i%len(kernelIDs)], "name": "upd"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=update/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := raw.update(ctx, rawIDs[i%len(rawIDs)], "upd"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=update/impl=rawprep", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := rawp.update(ctx, rawIDs[i%len(rawIDs)], "upd"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=get/impl=kernel", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetEntity(ctx, "kernel_t", kernelIDs[i%len(kernelIDs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=get/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := raw.get(ctx, rawIDs[i%len(rawIDs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=get/impl=rawprep", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := rawp.get(ctx, rawIDs[i%len(rawIDs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=find100/impl=kernel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			es, err := s.FindEntities(ctx, "kernel_t", db.Query{Where: "[n] >= ?", Params: []any{0}, Limit: 100})
			if err != nil || len(es) != 100 {
				b.Fatal(len(es), err)
			}
		}
	})
	b.Run("op=find100/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ms, err := raw.find(ctx, 0)
			if err != nil || len(ms) != 100 {
				b.Fatal(len(ms), err)
			}
		}
	})
	b.Run("op=find100/impl=rawprep", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ms, err := rawp.find(ctx, 0)
			if err != nil || len(ms) != 100 {
				b.Fatal(len(ms), err)
			}
		}
	})
}
