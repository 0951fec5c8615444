package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
)

// txn is the state of one transaction shared by its Store.
type txn struct {
	tx      *sql.Tx
	tables  map[string]*tableInfo // schema learnt inside, published on commit
	changes []Change              // observed on commit
	done    atomic.Bool

	// Where DDL cannot run inside a transaction (MySQL), a table the
	// transaction used cannot change until it ends: the DDL waits for
	// the retry.
	used     map[string]bool
	retryDDL []string

	// broken is why the transaction can do nothing more but roll back: the
	// database rolled it back (a deadlock on MySQL) or a savepoint could not
	// be restored.
	broken error
}

// errRetryTx ends a transaction that must run again after pending DDL.
var errRetryTx = errors.New("db: transaction must run again after a schema change")

// maxTxRuns bounds how often Tx runs fn because of schema changes.
const maxTxRuns = 4

func (t *txn) use(table string) {
	if t.used != nil {
		t.used[table] = true
	}
}

func (t *txn) usedTable(table string) bool { return t.used[table] }

func (t *txn) retryAfter(stmt string) error {
	t.retryDDL = append(t.retryDDL, stmt)
	return errRetryTx
}

// Tx runs fn in a transaction. Every call on the Store handed to fn runs in
// it; fn's error or panic rolls it back (the panic then continues), else it
// commits and observers see its changes, in order, after the commit. Calling
// Tx on that Store runs fn in the same transaction. The Store given to fn
// must not be used after fn returns, nor from several goroutines at once.
// Inside fn, write through tx only: on SQLite a write through the outer
// Store waits for the single writer connection that the transaction holds.
//
// On MySQL, a table or column that a call inside creates is created outside
// the transaction (MySQL commits on DDL) and stays if it rolls back; when
// the table was already used in the transaction, the transaction is rolled
// back, the column added, and fn run again (so fn must not have effects
// outside the store, or must tolerate running twice).
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		if err := s.checkTx(); err != nil {
			return err
		}
		return fn(s)
	}
	for run := 1; ; run++ {
		ddl, err := s.runTx(ctx, fn)
		if len(ddl) == 0 {
			return err
		}
		if run == maxTxRuns {
			return fmt.Errorf("db: transaction still needed schema changes after %d runs", run)
		}
		for _, stmt := range ddl {
			if class, err := s.ddl(ctx, "", stmt); err != nil && class != errDupColumn && class != errDupObject {
				return fmt.Errorf("db: schema change for transaction: %w", err)
			}
		}
		// Forget what changed; the next run looks again.
		s.c.mu.Lock()
		clear(s.c.tables)
		s.c.mu.Unlock()
	}
}

// runTx runs fn once; a non-empty ddl asks for DDL and another run.
func (s *Store) runTx(ctx context.Context, fn func(tx *Store) error) (ddl []string, err error) {
	s.c.stats.statements.Add(1)
	sqlTx, err := s.c.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("db: begin transaction: %w", err)
	}
	t := &txn{tx: sqlTx, tables: map[string]*tableInfo{}}
	if !s.c.d.ddlInTx() {
		t.used = map[string]bool{}
	}
	ts := &Store{c: s.c, tx: t}
	committed := false
	defer func() {
		if !committed {
			t.done.Store(true)
			sqlTx.Rollback()
		}
	}()
	err = fn(ts)
	if len(t.retryDDL) > 0 {
		// Even if fn dropped the error: the transaction missed a column.
		return t.retryDDL, err
	}
	if t.broken != nil {
		// Even if fn dropped the error: the transaction is gone.
		if err == nil {
			err = fmt.Errorf("db: transaction failed: %w", t.broken)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	t.done.Store(true)
	s.c.stats.statements.Add(1)
	if err := sqlTx.Commit(); err != nil {
		if c := s.c.d.classify(err); c == errUnique || c == errDupID {
			return nil, fmt.Errorf("db: commit: %v: %w", err, ErrConflict)
		}
		return nil, fmt.Errorf("db: commit: %w", err)
	}
	committed = true
	if len(t.tables) > 0 {
		s.c.mu.Lock()
		for name, ti := range t.tables {
			s.c.tables[name] = ti
		}
		s.c.mu.Unlock()
	}
	for _, ch := range t.changes {
		s.notify(ctx, ch)
	}
	return nil, nil
}
