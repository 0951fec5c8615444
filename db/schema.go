package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// numSystemColumns counts the columns the store gives every entity table
// (see isSystemColumn).
const numSystemColumns = 4

func isSystemColumn(c string) bool {
	switch c {
	case "id", "created_at", "updated_at", "deleted_at":
		return true
	}
	return false
}

// tableInfo is what the store knows of one table. It is immutable once
// published; a schema change publishes a new one.
type tableInfo struct {
	name     string
	cols     map[string]kind
	order    []string // columns in table order, as SELECT * returns them
	kinds    []kind   // kinds in table order
	loadedAt time.Time
	gen      int64 // unique per tableInfo of a core, see selectAll

	sql     sync.Map     // statement text by shape: string -> string or *whereSQL
	queries atomic.Int64 // *whereSQL entries, bounded by maxCachedClauses
}

func newTableInfo(name string, gen int64, order []string, kinds []kind) *tableInfo {
	t := &tableInfo{name: name, gen: gen, cols: make(map[string]kind, len(order)), order: order, kinds: kinds, loadedAt: time.Now()}
	for i, c := range order {
		t.cols[c] = kinds[i]
	}
	return t
}

// stmt returns the cached statement text for key, building it once.
func (t *tableInfo) stmt(key string, build func() string) string {
	if v, ok := t.sql.Load(key); ok {
		return v.(string)
	}
	q := build()
	t.sql.Store(key, q)
	return q
}

// selectAll starts a SELECT of every column. The text names the cache
// generation: when the table's columns change the text changes too, so a
// database that caches plans by text (pgx does) never reuses a plan whose
// result columns are stale.
func (s *Store) selectAll(t *tableInfo) string {
	return "SELECT /*g" + strconv.FormatInt(t.gen, 10) + "*/ * FROM " + s.c.d.quote(t.name)
}

// cached looks the table up in the transaction's pending schema, then in the
// shared cache.
func (s *Store) cached(table string) *tableInfo {
	if s.tx != nil {
		if t := s.tx.tables[table]; t != nil {
			return t
		}
	}
	s.c.mu.RLock()
	t := s.c.tables[table]
	s.c.mu.RUnlock()
	return t
}

// publish records what the store learnt of a table: in the transaction
// until it commits (its DDL may roll back), else in the shared cache.
func (s *Store) publish(t *tableInfo, viaTx bool) {
	if viaTx && s.tx != nil {
		s.tx.tables[t.name] = t
		return
	}
	s.c.mu.Lock()
	s.c.tables[t.name] = t
	s.c.mu.Unlock()
	s.c.dropStatements(t.name)
}

func (s *Store) forget(table string) {
	if s.tx != nil {
		delete(s.tx.tables, table)
	}
	s.c.mu.Lock()
	delete(s.c.tables, table)
	s.c.mu.Unlock()
	s.c.dropStatements(table)
}

// dropStatements forgets the prepared statements over table, whose schema
// changed: a prepared SELECT * would keep its old columns on some
// databases.
func (c *core) dropStatements(table string) {
	c.wstmts.dropTable(table)
	if c.rstmts != c.wstmts {
		c.rstmts.dropTable(table)
	}
}

// introspect reads a table's columns; nil when the table does not exist.
func (s *Store) introspect(ctx context.Context, q querier, table string) (*tableInfo, error) {
	s.c.stats.introspections.Add(1)
	rows, err := s.query(ctx, q, s.c.d.columnsQuery(), table)
	if err != nil {
		return nil, fmt.Errorf("db: reading columns of %s: %w", table, err)
	}
	defer rows.Close()
	var order []string
	var kinds []kind
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("db: reading columns of %s: %w", table, err)
		}
		order = append(order, name)
		kinds = append(kinds, s.c.d.kindOf(typ))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: reading columns of %s: %w", table, err)
	}
	if len(order) == 0 {
		return nil, nil
	}
	return newTableInfo(table, s.c.gen.Add(1), order, kinds), nil
}

// tableForRead returns what is known of table, introspecting once when the
// cache is cold. nil means the table does not exist (not cached: another
// process may create it any moment).
func (s *Store) tableForRead(ctx context.Context, table string) (*tableInfo, error) {
	if t := s.cached(table); t != nil {
		return t, nil
	}
	t, err := s.introspect(ctx, s.reader(), table)
	if err != nil || t == nil {
		return nil, err
	}
	s.publish(t, s.tx != nil)
	return t, nil
}

// refresh re-reads a table after another process may have changed it.
func (s *Store) refresh(ctx context.Context, table string) (*tableInfo, error) {
	t, err := s.introspect(ctx, s.reader(), table)
	if err != nil {
		return nil, err
	}
	if t == nil {
		s.forget(table)
		return nil, nil
	}
	s.publish(t, s.tx != nil)
	return t, nil
}

// staleAfter is how old a cached table must be before a column it lacks
// makes the store look again (another instance may have added it).
const staleAfter = time.Second

// ddl runs schema changes: in the transaction where DDL is
// transactional (guarded by a savepoint so a lost race does not abort it),
// else on the write pool.
func (s *Store) ddl(ctx context.Context, table, stmt string) (errClass, error) {
	return s.ddlOn(ctx, s.c.w, table, stmt)
}

// ddlOn is ddl with w in place of the write pool outside a transaction.
func (s *Store) ddlOn(ctx context.Context, w querier, table, stmt string) (errClass, error) {
	if s.ddlCostsRerun() {
		// The transaction holds metadata locks on the tables it used. The
		// DDL must wait for those of its own table, and, on another table,
		// for transactions that may be waiting for this one: a cycle the
		// server cannot see, through this goroutine. So never wait for DDL
		// while holding a transaction: end it, run the DDL alone, and run
		// the transaction again.
		return errOther, s.tx.retryAfter(table, stmt)
	}
	// No process-wide lock here: on SQLite a DDL waiting for the writer held
	// by a transaction would block that transaction's own DDL. Races are
	// settled by the database (IF NOT EXISTS, duplicate-column errors).
	if s.tx != nil && s.c.d.ddlInTx() {
		if _, err := s.exec(ctx, s.tx.tx, "SAVEPOINT ak_ddl"); err != nil {
			return errOther, err
		}
		if _, err := s.exec(ctx, s.tx.tx, stmt); err != nil {
			if _, rerr := s.exec(ctx, s.tx.tx, "ROLLBACK TO SAVEPOINT ak_ddl"); rerr != nil {
				return errOther, rerr
			}
			return s.c.d.classify(err), err
		}
		_, err := s.exec(ctx, s.tx.tx, "RELEASE SAVEPOINT ak_ddl")
		return errOther, err
	}
	if _, err := s.exec(ctx, w, stmt); err != nil {
		return s.c.d.classify(err), err
	}
	return errOther, nil
}

// ddlCostsRerun reports whether DDL now would end the transaction and run
// it again (MySQL, once the transaction used a table).
func (s *Store) ddlCostsRerun() bool {
	return s.tx != nil && !s.c.d.ddlInTx() && s.tx.usedAny()
}

// exists reports whether table exists (false when that cannot be read).
func (s *Store) exists(ctx context.Context, q querier, table string) bool {
	t, err := s.introspect(ctx, q, table)
	return err == nil && t != nil
}

// ddlQuerier is where a schema change is looked at afterwards.
func (s *Store) ddlQuerier() querier {
	if s.tx != nil && s.c.d.ddlInTx() {
		return s.tx.tx
	}
	return s.c.w
}

// checkTableCase refuses to create table beside one whose name differs only
// in case: SQLite (and MySQL with lower_case_table_names) would take them
// for one table, Postgres for two, so no database gets them.
func (s *Store) checkTableCase(ctx context.Context, q querier, table string) error {
	rows, err := s.query(ctx, q, s.c.d.tableCaseQuery(), table, table)
	if err != nil {
		return fmt.Errorf("db: looking for tables named like %s: %w", table, err)
	}
	defer rows.Close()
	if rows.Next() {
		var other string
		if err := rows.Scan(&other); err != nil {
			return fmt.Errorf("db: looking for tables named like %s: %w", table, err)
		}
		return fmt.Errorf("db: table %s: table %s exists, and names differing only in case are one table on some databases: %w", table, other, ErrInvalidName)
	}
	return rows.Err()
}

// withNameLock runs fn holding the lock on table's name, lower-cased,
// across processes: until the transaction ends when the store is in one
// where DDL is transactional (the table it creates is visible to others
// only then), else on a connection of its own, which fn is given to use.
// Without a lock (SQLite) fn runs on q.
func (s *Store) withNameLock(ctx context.Context, q querier, table string, fn func(q querier) error) error {
	lock, unlock, lockTx := s.c.d.nameLock()
	if lock == "" {
		return fn(q)
	}
	sum := sha256.Sum256([]byte(strings.ToLower(table)))
	key := "appkernel:table:" + hex.EncodeToString(sum[:16]) // at most 64 characters for MySQL
	if s.tx != nil && lockTx != "" {
		if _, err := s.exec(ctx, s.tx.tx, lockTx, key); err != nil {
			return fmt.Errorf("db: locking the name %s: %w", table, err)
		}
		return fn(s.tx.tx)
	}
	conn, err := s.c.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("db: locking the name %s: %w", table, err)
	}
	defer conn.Close()
	// A connection that may hold the lock never goes back to the pool
	// still holding it: it is closed instead, which releases the lock.
	discard := func() { conn.Raw(func(any) error { return driver.ErrBadConn }) }
	var got sql.NullInt64
	s.c.stats.statements.Add(1)
	if err := conn.QueryRowContext(ctx, lock, key).Scan(&got); err != nil {
		discard() // the server may have granted it as ctx ended
		return fmt.Errorf("db: locking the name %s: %w", table, err)
	}
	switch {
	case !got.Valid:
		discard()
		return fmt.Errorf("db: locking the name %s: the database did not grant the lock", table)
	case got.Int64 != 1:
		return fmt.Errorf("db: locking the name %s: %w: another process held it for 30 s", table, ErrBusy)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.c.stats.statements.Add(1)
		if _, err := conn.ExecContext(uctx, unlock, key); err != nil {
			discard()
		}
	}()
	return fn(conn)
}

// withTableLock runs fn while no other caller, in this process or
// another, adds columns to table, so that what fn checks against the
// columns (names differing only in case, the column limit) still holds
// when it adds its own; fn is given the querier to use:
//
//   - where the dialect has a lock statement (Postgres), the lock ALTER
//     TABLE takes on table (so taking it first adds no lock to deadlock
//     on), in the store's transaction until it ends, else in a transaction
//     of its own around fn;
//   - where DDL is transactional without one (SQLite), the write
//     transaction: the store's, else one of its own around fn;
//   - else (MySQL) the lock on the table's name, on a connection of its
//     own (see withNameLock). Inside a transaction that used a table,
//     addColumns never gets here: it defers the columns to the rerun.
func (s *Store) withTableLock(ctx context.Context, table string, fn func(q querier) error) error {
	if !s.c.d.ddlInTx() {
		return s.withNameLock(ctx, s.c.w, table, fn)
	}
	lock := s.c.d.lockTable(table)
	if s.tx != nil {
		if lock != "" {
			if _, err := s.exec(ctx, s.tx.tx, lock); err != nil {
				return fmt.Errorf("db: locking table %s: %w", table, err)
			}
		}
		return fn(s.tx.tx)
	}
	tx, err := s.c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: locking table %s: %w", table, err)
	}
	if lock != "" {
		if _, err := s.exec(ctx, tx, lock); err != nil {
			tx.Rollback()
			return fmt.Errorf("db: locking table %s: %w", table, err)
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ensureTable creates table (and its history table) when missing and
// returns what is known of it.
func (s *Store) ensureTable(ctx context.Context, table string) (*tableInfo, error) {
	if t := s.cached(table); t != nil {
		return t, nil
	}
	if err := s.c.checkHistoryName(table); err != nil {
		return nil, err
	}
	q := s.ddlQuerier()
	t, err := s.introspect(ctx, q, table)
	if err != nil {
		return nil, err
	}
	if t == nil && s.ddlCostsRerun() {
		// The transaction ends and runs again after Tx creates the table
		// (and checks its name) on its own.
		err := s.tx.retryCreate(table)
		if s.c.historyOn(table) {
			err = s.tx.retryAfter(table, s.c.d.createHistory(table))
		}
		return nil, err
	}
	if t == nil {
		// Under the name's lock, so that two processes creating "Notes"
		// and "notes" at once cannot both pass the check.
		err := s.withNameLock(ctx, q, table, func(q querier) error {
			var err error
			if t, err = s.introspect(ctx, q, table); err != nil || t != nil {
				return err // created while this store waited for the lock
			}
			if err := s.checkTableCase(ctx, q, table); err != nil {
				return err
			}
			if _, err := s.ddlOn(ctx, q, table, s.c.d.createTable(table)); err != nil {
				// Another store may have created it at the same moment.
				if t, _ = s.introspect(ctx, q, table); t == nil {
					return fmt.Errorf("db: creating table %s: %w", table, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if s.c.historyOn(table) && (t == nil || !s.ddlCostsRerun() || !s.exists(ctx, q, historyTable(table))) {
		if _, err := s.ddl(ctx, table, s.c.d.createHistory(table)); err != nil {
			if h, _ := s.introspect(ctx, q, historyTable(table)); h == nil {
				return nil, fmt.Errorf("db: creating table %s: %w", historyTable(table), err)
			}
		}
	}
	if t == nil {
		if t, err = s.introspect(ctx, q, table); err != nil {
			return nil, err
		}
		if t == nil {
			// CREATE TABLE IF NOT EXISTS found a table whose name differs
			// only in case (SQLite, or MySQL with lower_case_table_names).
			return nil, fmt.Errorf("db: table %s: the database has a table whose name differs only in case, and it does not tell such names apart: %w", table, ErrInvalidName)
		}
	}
	s.publish(t, s.c.d.ddlInTx())
	return t, nil
}

// addColumns adds the missing columns (name -> kind) to t.
func (s *Store) addColumns(ctx context.Context, t *tableInfo, missing map[string]kind) (*tableInfo, error) {
	if s.ddlCostsRerun() {
		// The DDL would cost a rerun of the transaction: first make sure
		// the columns are missing, not just unknown to a stale cache
		// (another transaction may have added them since).
		nt, err := s.introspect(ctx, s.ddlQuerier(), t.name)
		if err != nil {
			return nil, err
		}
		if nt != nil {
			s.publish(nt, false)
			t = nt
		}
		add, err := s.newColumns(t, missing)
		if err != nil || len(add) == 0 {
			return t, err
		}
		// Added (and checked again, under the lock) after the transaction
		// ends, before it runs again.
		return nil, s.tx.retryColumns(t.name, missing)
	}
	// Against the columns the database has now, under the table's lock,
	// so that two processes adding "Title" and "title", or columns past
	// the limit, at once cannot both pass the check.
	err := s.withTableLock(ctx, t.name, func(q querier) error {
		now, err := s.introspect(ctx, q, t.name)
		if err != nil {
			return err
		}
		if now == nil {
			// MariaDB's information_schema can miss a table while
			// another connection rebuilds it (CREATE INDEX): go by what
			// was known; the ADD COLUMN itself settles a clash there.
			now = t
		}
		add, err := s.newColumns(now, missing)
		if err != nil {
			return err
		}
		for _, c := range add {
			class, err := s.ddlOn(ctx, q, t.name, s.c.d.addColumn(t.name, c, missing[c]))
			if err != nil && class != errDupColumn {
				return fmt.Errorf("db: adding column %s.%s: %w", t.name, c, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	nt, err := s.introspect(ctx, s.ddlQuerier(), t.name)
	if err != nil {
		return nil, err
	}
	if nt == nil {
		return nil, fmt.Errorf("db: table %s disappeared while adding columns", t.name)
	}
	s.publish(nt, s.c.d.ddlInTx())
	return nt, nil
}

// newColumns returns the names of missing that t lacks, sorted, after
// checking every one, against the columns and each other, before the first
// is added: none may differ only in case from another, and together they
// may not take t past the column limit.
func (s *Store) newColumns(t *tableInfo, missing map[string]kind) ([]string, error) {
	names := slices.Clone(t.order)
	var add []string
	for _, c := range slices.Sorted(maps.Keys(missing)) {
		if _, ok := t.cols[c]; ok {
			continue
		}
		for _, have := range names {
			if strings.EqualFold(have, c) {
				return nil, fmt.Errorf("db: %s: field %q clashes with %q (column names are case-insensitive on some databases): %w",
					t.name, c, have, ErrInvalidName)
			}
		}
		names = append(names, c)
		add = append(add, c)
	}
	if limit := s.c.cfg.MaxColumns; len(add) > 0 && len(names) > limit {
		return nil, &ColumnLimitError{Table: t.name, Limit: limit, Columns: len(t.order), New: add}
	}
	return add, nil
}

// indexName is a deterministic index name that fits every database.
func indexName(table string, columns []string, unique bool) string {
	suffix := "_idx"
	if unique {
		suffix = "_key"
	}
	n := table + "_" + strings.Join(columns, "_") + suffix
	if len(n) <= maxNameLen {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	tail := fmt.Sprintf("_%08x%s", h.Sum32(), suffix)
	return n[:maxNameLen-len(tail)] + tail
}
