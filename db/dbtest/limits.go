package dbtest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel/db"
)

// openLimited opens another store on the database with MaxColumns limit.
func (b *bundle) openLimited(t *testing.T, limit int) *db.Store {
	t.Helper()
	s, err := db.OpenConfig(b.ctx, db.Config{URL: b.url, MaxColumns: limit})
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// columns lists the columns table has in the database.
func (b *bundle) columns(t *testing.T, table string) []string {
	t.Helper()
	// The text differs each time: pgx would reuse a plan with the old columns.
	q := fmt.Sprintf("SELECT /* %d */ * FROM %s WHERE 1 = 0", time.Now().UnixNano(), table)
	rows, err := b.store.DB().QueryContext(b.ctx, q)
	if err != nil {
		t.Fatalf("reading the columns of %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("reading the columns of %s: %v", table, err)
	}
	return cols
}

func fieldsNamed(prefix string, n int) db.Entity {
	e := db.Entity{}
	for i := 0; i < n; i++ {
		e[fmt.Sprintf("%s%d", prefix, i)] = int64(i)
	}
	return e
}

// A client that chooses the keys of a saved map cannot grow a table past
// its column limit: the save that would is ErrInvalidQuery naming the
// limit, and adds none of its fields.
func testColumnLimit(t *testing.T, b *bundle) {
	// The default limit is 200 columns, the store's four included.
	_, err := b.store.SaveEntity(b.ctx, "wide", fieldsNamed("k", 197))
	wantErr(t, err, db.ErrInvalidQuery, "197 fields under the default limit")
	if !strings.Contains(err.Error(), "200") {
		t.Errorf("the error does not name the limit of 200: %v", err)
	}
	if cols := b.columns(t, "wide"); len(cols) != 4 {
		t.Errorf("after the refused save the table has columns %v, want the store's own four", cols)
	}

	s := b.openLimited(t, 10) // six fields
	if _, err := s.SaveEntity(b.ctx, "capped", fieldsNamed("a", 5)); err != nil {
		t.Fatal(err)
	}
	_, err = s.SaveEntity(b.ctx, "capped", db.Entity{"a0": int64(1), "x": "1", "y": "2"})
	wantErr(t, err, db.ErrInvalidQuery, "two new fields, one past the limit")
	var le *db.ColumnLimitError
	if !errors.As(err, &le) || le.Limit != 10 || le.Table != "capped" || strings.Join(le.New, ",") != "x,y" {
		t.Errorf("error %v is not a ColumnLimitError{capped, limit 10, new x,y}", err)
	}
	if !strings.Contains(err.Error(), "limit of 10") {
		t.Errorf("the error does not name the limit: %v", err)
	}
	if cols := b.columns(t, "capped"); len(cols) != 9 {
		t.Errorf("a refused save added columns: %v", cols)
	}
	// Up to the limit is fine; known fields always are.
	if _, err := s.SaveEntity(b.ctx, "capped", db.Entity{"a0": int64(2), "x": "1"}); err != nil {
		t.Fatalf("the tenth column: %v", err)
	}
	if _, err := s.SaveEntity(b.ctx, "capped", db.Entity{"a1": int64(2), "x": "2"}); err != nil {
		t.Fatalf("a save of existing fields at the limit: %v", err)
	}
	_, err = s.SaveEntity(b.ctx, "capped", db.Entity{"z": true})
	wantErr(t, err, db.ErrInvalidQuery, "a new field at the limit")
	wantErr(t, s.EnsureIndex(b.ctx, "capped", []string{"z"}, false), db.ErrInvalidQuery, "EnsureIndex of a new column at the limit")
	wantErr(t, s.EnsureColumns(b.ctx, "capped", db.Entity{"z": "x"}), db.ErrInvalidQuery, "EnsureColumns at the limit")
	// Inside a transaction that used the table (on MySQL the column waits
	// for a rerun of the transaction) the limit holds too.
	err = s.Tx(b.ctx, func(tx *db.Store) error {
		if _, err := tx.SaveEntity(b.ctx, "capped", db.Entity{"a2": int64(3)}); err != nil {
			return err
		}
		_, err := tx.SaveEntity(b.ctx, "capped", db.Entity{"z": true})
		return err
	})
	wantErr(t, err, db.ErrInvalidQuery, "a new field at the limit in a transaction")
	if cols := b.columns(t, "capped"); len(cols) != 10 {
		t.Errorf("the table has %d columns, want 10: %v", len(cols), cols)
	}
	if _, err := db.OpenConfig(b.ctx, db.Config{URL: b.url, MaxColumns: 4}); err == nil || !strings.Contains(err.Error(), "MaxColumns") {
		t.Errorf("MaxColumns of 4 (no room for a field): %v", err)
	}
}

// Several stores (as several instances of a service) saving new fields at
// once never take a table past its limit, not even by one column: columns
// of a table are added one caller at a time, each counting first. Half the
// savers run in transactions (on MySQL their columns are added between two
// runs of the transaction, checked again then).
func testColumnLimitRace(t *testing.T, b *bundle) {
	const limit, savers, rounds, perSave = 12, 6, 4, 2
	stores := make([]*db.Store, savers)
	for i := range stores {
		stores[i] = b.openLimited(t, limit)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				e := fieldsNamed(fmt.Sprintf("s%dr%df", i, r), perSave)
				save := func(s *db.Store) error {
					_, err := s.SaveEntity(b.ctx, "race_cap", e)
					return err
				}
				var err error
				if i%2 == 0 {
					err = save(s)
				} else {
					err = s.Tx(b.ctx, func(tx *db.Store) error {
						if _, err := tx.SaveEntity(b.ctx, "race_cap", db.Entity{"seen": true}); err != nil {
							return err
						}
						return save(tx)
					})
				}
				var le *db.ColumnLimitError
				switch {
				case err == nil:
				case errors.As(err, &le):
					mu.Lock()
					refused++
					mu.Unlock()
				default:
					t.Errorf("store %d round %d: %v", i, r, err)
				}
			}
		}()
	}
	wg.Wait()
	cols := b.columns(t, "race_cap")
	if len(cols) > limit {
		t.Errorf("the table has %d columns, past the limit of %d: %v", len(cols), limit, cols)
	}
	if refused == 0 {
		t.Errorf("no save was refused, though %d fields were asked for", savers*rounds*perSave)
	}
	// Every field of a save that succeeded is there: a save was never cut short.
	for _, c := range cols {
		if strings.HasPrefix(c, "s") && c != "seen" && !strings.HasSuffix(c, "f0") && !strings.HasSuffix(c, "f1") {
			t.Errorf("unexpected column %s", c)
		}
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	for _, c := range cols {
		if strings.HasSuffix(c, "f0") && !have[strings.TrimSuffix(c, "0")+"1"] {
			t.Errorf("column %s is there without its sibling from the same save", c)
		}
	}
}

// A table's history table "{table}_history" must fit in a name as the
// table does: a longer name is refused (Postgres would cut the history
// table's name short) by every call that creates tables, unless the
// table keeps no history.
func testHistoryNameLength(t *testing.T, b *bundle) {
	ok, long := strings.Repeat("h", 55), strings.Repeat("l", 56)
	if err := b.store.EnsureIndex(b.ctx, ok, []string{"k"}, true); err != nil {
		t.Fatalf("EnsureIndex on a 55-character table: %v", err)
	}
	e := b.save(t, ok, db.Entity{"k": "v"})
	if h, err := b.store.History(b.ctx, ok, e["id"].(string)); err != nil || len(h) != 1 {
		t.Errorf("history of the 55-character table: %v, %v; want one version", h, err)
	}
	for what, err := range map[string]error{
		"EnsureIndex":   b.store.EnsureIndex(b.ctx, long, []string{"k"}, true),
		"EnsureColumns": b.store.EnsureColumns(b.ctx, long, db.Entity{"k": "v"}),
		"SaveEntity":    func() error { _, err := b.store.SaveEntity(b.ctx, long, db.Entity{"k": "v"}); return err }(),
	} {
		wantErr(t, err, db.ErrInvalidName, what+" on a 56-character table")
		if !strings.Contains(err.Error(), "history") || !strings.Contains(err.Error(), "55") {
			t.Errorf("%s: the error does not say why: %v", what, err)
		}
	}
	if _, err := b.store.GetEntity(b.ctx, long, "x"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("a refused table was created: %v", err)
	}
	// Without history the name may take all 63 characters.
	s := b.open(t)
	max := strings.Repeat("m", 63)
	s.DisableHistory(max)
	if err := s.EnsureIndex(b.ctx, max, []string{"k"}, true); err != nil {
		t.Fatalf("EnsureIndex on a 63-character table without history: %v", err)
	}
	if _, err := s.SaveEntity(b.ctx, max, db.Entity{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.SaveEntity(b.ctx, max, db.Entity{"k": "v"})
	wantErr(t, err, db.ErrConflict, "the index of a 63-character table")
}
