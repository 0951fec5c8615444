package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Entity is one stored object: field name to value. Every entity has the
// string fields "id", "created_at", "updated_at" and "deleted_at".
type Entity = map[string]any

// GetOption changes what GetEntity returns.
type GetOption func(*getOptions)

type getOptions struct{ includeDeleted bool }

// IncludeDeleted makes GetEntity return a soft-deleted entity too.
func IncludeDeleted() GetOption { return func(o *getOptions) { o.includeDeleted = true } }

// wrapDB wraps a driver error with what the store was doing.
func wrapDB(what string, err error) error {
	return fmt.Errorf("db: %s: %w", what, err)
}

// wrapRead wraps the error of a read, marking contention with ErrBusy.
func (s *Store) wrapRead(what string, err error) error {
	switch s.c.d.classify(err) {
	case errBusy:
		return fmt.Errorf("db: %s: %w: %w", what, ErrBusy, err)
	case errQueryTypes:
		// Postgres types every placeholder and function argument: a ?
		// compared with nothing (? IS NULL) or lower() of a number is the
		// caller's clause at fault, not the database.
		// The driver's words (operators, types) stay in the log.
		return fmt.Errorf("db: %s: %w", what, &clientError{
			msg:      "the database cannot type the clause: compare each ? with a column or a value of known type",
			sentinel: ErrInvalidQuery,
			cause:    err,
		})
	case errBadText:
		return fmt.Errorf("db: %s: a text value is not valid UTF-8 or contains NUL, which the database cannot compare: %w", what, ErrInvalidQuery)
	}
	return wrapDB(what, err)
}

// conflict is the error of a write that broke a unique index (err is the
// driver's), naming the index's fields where they are known.
func (c *core) conflict(err error) *ConflictError {
	index, cols := c.d.uniqueViolated(err)
	if cols == nil && index != "" {
		c.mu.RLock()
		cols = slices.Clone(c.indexes[index])
		c.mu.RUnlock()
	}
	return &ConflictError{Fields: cols, Index: index, Err: err}
}

// GetEntity returns the entity of table with the given id, or an error
// matching ErrNotFound when it, or the table, does not exist or when it is
// soft-deleted (unless IncludeDeleted is given).
func (s *Store) GetEntity(ctx context.Context, table, id string, opts ...GetOption) (_ Entity, opErr error) {
	if s.c.cfg.OnOp != nil {
		defer s.opDone(ctx, OpGet, table, time.Now(), &opErr)
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	if err := s.checkTx(); err != nil {
		return nil, err
	}
	s.use(table)
	var o getOptions
	for _, opt := range opts {
		opt(&o)
	}
	t, err := s.tableForRead(ctx, table)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, notFound(table, id)
	}
	key, live := "get", true
	if o.includeDeleted {
		key, live = "getd", false
	}
	var rows *sql.Rows
	for attempt := 0; ; attempt++ {
		q := t.stmt(key, func() string { return s.selectByID(t, live, false) })
		rows, err = s.queryT(ctx, s.reader(), t, q, id)
		if err == nil {
			break
		}
		class := s.c.d.classify(err)
		if class == errNoTable {
			s.forget(table)
			return nil, notFound(table, id)
		}
		if class == errBadText {
			return nil, notFound(table, id) // no id the database holds is such text
		}
		if attempt == 0 && s.retryable(class) {
			if t, err = s.refresh(ctx, table); err == nil && t != nil {
				continue
			}
			return nil, notFound(table, id)
		}
		return nil, s.wrapRead("get "+table, err)
	}
	es, err := s.scan(ctx, t, rows, 1)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, notFound(table, id)
	}
	return es[0], nil
}

// retryable reports whether a statement that failed with class is worth
// one more try after the table is looked at again (only outside Tx: inside,
// the failure may have ended the transaction).
func (s *Store) retryable(class errClass) bool {
	return s.tx == nil && (class == errStalePlan || class == errNoColumn)
}

func (s *Store) selectByID(t *tableInfo, live, lock bool) string {
	d := s.c.d
	q := s.selectAll(t) + " WHERE " + d.quote("id") + " = " + d.placeholder(1)
	if live {
		q += " AND " + d.quote("deleted_at") + " IS NULL"
	}
	if lock {
		q += d.forUpdate()
	}
	return q
}

// field is one normalized field of an entity being saved.
type field struct {
	name string
	val  any
	kind kind
}

// SaveEntity creates the entity v (a map[string]any, or a struct or pointer
// to struct with json tags) in table, or, when v has the "id" of an existing
// entity, updates the fields v gives and keeps the others. It returns the
// whole entity as stored. Saving a soft-deleted entity restores it.
//
// The table and any new columns are created as needed, typed from the first
// non-nil value. created_at, updated_at and deleted_at in v are ignored.
func (s *Store) SaveEntity(ctx context.Context, table string, v any) (_ Entity, opErr error) {
	if s.c.cfg.OnOp != nil {
		defer s.opDone(ctx, OpSave, table, time.Now(), &opErr)
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	if err := s.checkTx(); err != nil {
		return nil, err
	}
	fields, id, err := s.c.fields(table, v)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		e, err := s.save(ctx, table, fields, id)
		// A table or column dropped or changed behind the cache's back:
		// forget what is cached and try once more.
		if err != nil && attempt == 0 && s.tx == nil {
			if c := s.c.d.classify(err); c == errNoTable || c == errNoColumn || c == errStalePlan {
				s.forget(table)
				continue
			}
		}
		return e, err
	}
}

func (s *Store) save(ctx context.Context, table string, fields []field, id string) (Entity, error) {
	t, err := s.prepareColumns(ctx, table, fields)
	if err != nil {
		return nil, err
	}
	s.use(table)
	history := s.c.historyOn(table)
	var ch Change
	// Decided once: write may run the function again after a deadlock.
	fresh := id == ""
	if fresh {
		id = newID()
	}
	write := s.write
	if fresh && !history && s.tx == nil {
		// A new row without history is one INSERT: it needs no
		// transaction of its own (a refresh token, a delivery).
		write = s.writeSingle
	}
	err = write(ctx, func(q querier) error {
		now := s.c.now()
		var old Entity
		if !fresh {
			var err error
			if old, err = s.lockRow(ctx, q, t, id); err != nil {
				return err
			}
		}
		if old == nil {
			ch = Change{Op: "create", Table: table, ID: id, New: s.insertedEntity(t, fields, id, now)}
			created, err := s.insert(ctx, q, t, fields, id, now, fresh)
			if err != nil {
				return err
			}
			if !created {
				// Another transaction created the id after the existence
				// check (which locks nothing when the row is absent):
				// this save is an update of what it committed.
				if old, err = s.lockRow(ctx, q, t, id); err != nil {
					return err
				}
				if old == nil {
					return fmt.Errorf("%w: entity created and removed concurrently", ErrConflict)
				}
			}
		}
		if old != nil {
			restore := old["deleted_at"] != nil
			ch = Change{Op: "update", Table: table, ID: id, Old: old, New: updatedEntity(old, fields, now, restore)}
			if restore {
				ch.Op = "restore"
			}
			if _, err := s.execT(ctx, q, t, s.updateSQL(t, fields, restore), updateArgs(t, fields, id, now)...); err != nil {
				return err
			}
		}
		if history {
			return s.recordHistory(ctx, q, t, id, ch.Op, ch.New, now, fresh)
		}
		return nil
	})
	if err != nil {
		return nil, s.writeError("save", table, id, err)
	}
	s.changed(ctx, ch)
	return ch.New, nil
}

// lockRow reads the row of id, deleted or not, locking it until the
// transaction ends; nil when there is none.
func (s *Store) lockRow(ctx context.Context, q querier, t *tableInfo, id string) (Entity, error) {
	rows, err := s.queryT(ctx, q, t, t.stmt("lock", func() string { return s.selectByID(t, false, true) }), id)
	if err != nil {
		return nil, err
	}
	es, err := s.scan(ctx, t, rows, 1)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	return es[0], nil
}

// insert inserts a new row. A generated id is new for sure; an id given by
// the caller may have been inserted by a concurrent transaction since it
// was looked for: then insert reports false and writes nothing.
func (s *Store) insert(ctx context.Context, q querier, t *tableInfo, fields []field, id, now string, fresh bool) (bool, error) {
	args := insertArgs(t, fields, id, now)
	if fresh {
		_, err := s.execT(ctx, q, t, s.insertSQL(t, fields), args...)
		return err == nil, err
	}
	stmt := t.stmt(shapeKey("I:", fields, t), func() string { return s.insertSQL(t, fields) + s.c.d.onConflictIDNothing() })
	res, err := s.execT(ctx, q, t, stmt, args...)
	if err != nil {
		if s.c.d.classify(err) == errDupID {
			return false, nil
		}
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// writeError classifies a failed write.
func (s *Store) writeError(op, table, id string, err error) error {
	if errors.Is(err, errTxDone) {
		return err
	}
	var ke *kernelError
	if errors.As(err, &ke) {
		return err
	}
	switch s.c.d.classify(err) {
	case errUnique, errDupID:
		return fmt.Errorf("db: %s %s %q: %w", op, table, id, s.c.conflict(err))
	case errBusy:
		return fmt.Errorf("db: %s %s %q: %w: %w", op, table, id, ErrBusy, err)
	}
	return fmt.Errorf("db: %s %s %q: %w", op, table, id, err)
}

func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return u.String()
}

// prepareColumns makes sure table has a column for every non-nil field and
// converts each value to its column's type.
func (s *Store) prepareColumns(ctx context.Context, table string, fields []field) (*tableInfo, error) {
	t, err := s.ensureTable(ctx, table)
	if err != nil {
		return nil, err
	}
	for pass := 0; pass < 2; pass++ {
		var missing map[string]kind
		for i, f := range fields {
			if f.kind == kindNone {
				continue
			}
			ck, ok := t.cols[f.name]
			if !ok {
				if missing == nil {
					missing = map[string]kind{}
				}
				missing[f.name] = f.kind
				continue
			}
			v, ok := fit(f.val, f.kind, ck)
			if !ok {
				return nil, &TypeMismatchError{Table: table, Column: f.name, ColumnType: ck.String(), ValueType: valueType(f.kind)}
			}
			fields[i].val, fields[i].kind = v, ck
		}
		if missing == nil {
			return t, nil
		}
		if t, err = s.addColumns(ctx, t, missing); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// shapeKey names the set of fields of a save, for the statement cache.
func shapeKey(prefix string, fields []field, t *tableInfo) string {
	n := len(prefix)
	for _, f := range fields {
		n += len(f.name) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(prefix)
	for _, f := range fields {
		if _, ok := t.cols[f.name]; !ok {
			continue // a nil field without a column is not written
		}
		b.WriteString(f.name)
		b.WriteByte(',')
	}
	return b.String()
}

func (s *Store) insertSQL(t *tableInfo, fields []field) string {
	return t.stmt(shapeKey("i:", fields, t), func() string {
		d := s.c.d
		var b strings.Builder
		b.WriteString("INSERT INTO " + d.quote(t.name) + " (" + d.quote("id") + ", " + d.quote("created_at") + ", " + d.quote("updated_at"))
		n := 3
		for _, f := range fields {
			if _, ok := t.cols[f.name]; ok {
				b.WriteString(", " + d.quote(f.name))
				n++
			}
		}
		b.WriteString(") VALUES (")
		placeholders(d, &b, 1, n)
		b.WriteString(")")
		return b.String()
	})
}

func insertArgs(t *tableInfo, fields []field, id, now string) []any {
	args := make([]any, 0, len(fields)+3)
	args = append(args, id, now, now)
	for _, f := range fields {
		if _, ok := t.cols[f.name]; ok {
			args = append(args, bindValue(f.val))
		}
	}
	return args
}

func (s *Store) updateSQL(t *tableInfo, fields []field, restore bool) string {
	prefix := "u:"
	if restore {
		prefix = "r:"
	}
	return t.stmt(shapeKey(prefix, fields, t), func() string {
		d := s.c.d
		var b strings.Builder
		b.WriteString("UPDATE " + d.quote(t.name) + " SET ")
		n := 1
		for _, f := range fields {
			if _, ok := t.cols[f.name]; ok {
				b.WriteString(d.quote(f.name) + " = " + d.placeholder(n) + ", ")
				n++
			}
		}
		b.WriteString(d.quote("updated_at") + " = " + d.placeholder(n))
		n++
		if restore {
			b.WriteString(", " + d.quote("deleted_at") + " = NULL")
		}
		b.WriteString(" WHERE " + d.quote("id") + " = " + d.placeholder(n))
		return b.String()
	})
}

func updateArgs(t *tableInfo, fields []field, id, now string) []any {
	args := make([]any, 0, len(fields)+2)
	for _, f := range fields {
		if _, ok := t.cols[f.name]; ok {
			args = append(args, bindValue(f.val))
		}
	}
	return append(args, now, id)
}

// insertedEntity is the entity a create stores: every column of the table,
// nil where not given.
func (s *Store) insertedEntity(t *tableInfo, fields []field, id, now string) Entity {
	e := make(Entity, len(t.order)+len(fields))
	for _, c := range t.order {
		e[c] = nil
	}
	for _, f := range fields {
		e[f.name] = outValue(f.val)
	}
	e["id"], e["created_at"], e["updated_at"] = id, now, now
	return e
}

func updatedEntity(old Entity, fields []field, now string, restore bool) Entity {
	e := make(Entity, len(old)+len(fields))
	for k, v := range old {
		e[k] = v
	}
	for _, f := range fields {
		e[f.name] = outValue(f.val)
	}
	e["updated_at"] = now
	if restore {
		e["deleted_at"] = nil
	}
	return e
}

// write runs fn in a transaction: its own, or a savepoint of the caller's
// Tx so that a failed call (a conflict) leaves that transaction usable on
// every database, Postgres included. Its own transaction runs again after
// a deadlock; in the caller's, the deadlock ends the whole Tx run (which
// Tx then runs again).
func (s *Store) write(ctx context.Context, fn func(q querier) error) error {
	if s.tx != nil {
		tx := s.tx.tx
		if _, err := s.exec(ctx, tx, "SAVEPOINT ak_call"); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			if s.c.d.classify(err) == errBusy {
				// MySQL has rolled the whole transaction back (savepoints
				// included); Postgres has aborted it. Only a new run helps.
				s.tx.broken = err
				return err
			}
			if _, rerr := s.exec(ctx, tx, "ROLLBACK TO SAVEPOINT ak_call"); rerr != nil {
				s.tx.broken = rerr
				return errors.Join(err, rerr)
			}
			s.exec(ctx, tx, "RELEASE SAVEPOINT ak_call")
			return err
		}
		_, err := s.exec(ctx, tx, "RELEASE SAVEPOINT ak_call")
		return err
	}
	for try := 1; ; try++ {
		err := s.writeOnce(ctx, fn)
		if err == nil || try == maxBusyRuns || s.c.d.classify(err) != errBusy {
			return err
		}
		if berr := backoff(ctx, try); berr != nil {
			return err
		}
	}
}

// writeSingle runs fn, which issues exactly one statement, on the write
// pool in autocommit mode, retrying it like write does.
func (s *Store) writeSingle(ctx context.Context, fn func(q querier) error) error {
	for try := 1; ; try++ {
		err := fn(s.c.w)
		if err == nil || try == maxBusyRuns || s.c.d.classify(err) != errBusy {
			return err
		}
		if berr := backoff(ctx, try); berr != nil {
			return err
		}
	}
}

// writeOnce runs fn in a transaction of its own.
func (s *Store) writeOnce(ctx context.Context, fn func(q querier) error) error {
	s.c.stats.statements.Add(1)
	tx, err := s.c.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer s.c.wstmts.warm(ctx)
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	s.c.stats.statements.Add(1)
	return tx.Commit()
}

// DeleteEntity deletes the entity of table with the given id: softly (it
// gets a deleted_at and disappears from reads, SaveEntity restores it) or,
// with permanent, for good. It reports whether an entity was deleted.
func (s *Store) DeleteEntity(ctx context.Context, table, id string, permanent bool) (_ bool, opErr error) {
	if s.c.cfg.OnOp != nil {
		defer s.opDone(ctx, OpDelete, table, time.Now(), &opErr)
	}
	if err := checkTable(table); err != nil {
		return false, err
	}
	if err := s.checkTx(); err != nil {
		return false, err
	}
	s.use(table)
	ok, err := s.delete(ctx, table, id, permanent)
	if err != nil && s.retryable(s.c.d.classify(err)) {
		s.forget(table)
		ok, err = s.delete(ctx, table, id, permanent)
	}
	if err != nil {
		return false, s.writeError("delete", table, id, err)
	}
	return ok, nil
}

func (s *Store) delete(ctx context.Context, table, id string, permanent bool) (bool, error) {
	t, err := s.tableForRead(ctx, table)
	if err != nil || t == nil {
		return false, err
	}
	history := s.c.historyOn(table)
	var ch Change
	deleted := false
	err = s.write(ctx, func(q querier) error {
		deleted = false
		rows, err := s.queryT(ctx, q, t, t.stmt("lock", func() string { return s.selectByID(t, false, true) }), id)
		if err != nil {
			return err
		}
		es, err := s.scan(ctx, t, rows, 1)
		if err != nil || len(es) == 0 {
			return err
		}
		old := es[0]
		now := s.c.now()
		d := s.c.d
		snapshot := old
		if permanent {
			q1 := t.stmt("del", func() string {
				return "DELETE FROM " + d.quote(t.name) + " WHERE " + d.quote("id") + " = " + d.placeholder(1)
			})
			if _, err := s.execT(ctx, q, t, q1, id); err != nil {
				return err
			}
			ch = Change{Op: "delete", Table: table, ID: id, Old: old}
		} else {
			if old["deleted_at"] != nil {
				return nil
			}
			q1 := t.stmt("soft", func() string {
				return "UPDATE " + d.quote(t.name) + " SET " + d.quote("deleted_at") + " = " + d.placeholder(1) + ", " +
					d.quote("updated_at") + " = " + d.placeholder(2) + " WHERE " + d.quote("id") + " = " + d.placeholder(3)
			})
			if _, err := s.execT(ctx, q, t, q1, now, now, id); err != nil {
				return err
			}
			snapshot = make(Entity, len(old))
			for k, v := range old {
				snapshot[k] = v
			}
			snapshot["deleted_at"], snapshot["updated_at"] = now, now
			ch = Change{Op: "delete", Table: table, ID: id, Old: old, New: snapshot}
		}
		deleted = true
		if history {
			return s.recordHistory(ctx, q, t, id, "delete", snapshot, now, false)
		}
		return nil
	})
	if err != nil {
		if s.c.d.classify(err) == errNoTable {
			s.forget(table)
			return false, nil
		}
		return false, err
	}
	if deleted {
		s.changed(ctx, ch)
	}
	return deleted, nil
}

// sortFields orders fields by name so equal shapes share statements.
func sortFields(fs []field) {
	slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.name, b.name) })
}
