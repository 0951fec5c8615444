package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// txn is the state of one transaction shared by its Store.
type txn struct {
	tx      *sql.Tx
	tables  map[string]*tableInfo // schema learnt inside, published on commit
	changes []Change              // observed on commit
	wrote   map[string]bool       // tables written, for OnWrite on commit
	done    atomic.Bool

	// Where DDL cannot run inside a transaction (MySQL), DDL runs only
	// while the transaction holds no lock: once it used a table, the DDL
	// waits for the rerun.
	used     map[string]bool
	retryDDL []pendingDDL

	// broken is why the transaction can do nothing more but roll back: the
	// database rolled it back (a deadlock on MySQL), a savepoint could not
	// be restored, or a cached statement predates a schema change (Postgres
	// aborts the transaction; Tx runs it again).
	broken error

	// stale names the tables whose cached statements or columns predate a
	// schema change another store made; forgotten before the next run.
	stale []string
}

// errRetryTx ends a transaction that must run again after pending DDL.
var errRetryTx = errors.New("db: transaction must run again after a schema change")

// maxTxRuns bounds how often Tx runs fn because of schema changes. On
// MySQL each table or column a transaction creates after its first
// statement costs one run.
const maxTxRuns = 16

func (t *txn) use(table string) {
	if t.used != nil {
		t.used[table] = true
	}
}

// usedAny reports whether the transaction used any table (and so may
// hold locks).
func (t *txn) usedAny() bool { return len(t.used) > 0 }

// pendingDDL is a schema change of table that waits for the rerun.
// A create (stmt "") creates the table as a store outside the transaction
// would, checking its name.
// Columns (stmt "") are added as a store outside the transaction would,
// checking their names and the column limit.
type pendingDDL struct {
	table, stmt string
	create      bool
	columns     map[string]kind
}

func (t *txn) retryAfter(table, stmt string) error {
	t.retryDDL = append(t.retryDDL, pendingDDL{table: table, stmt: stmt})
	return errRetryTx
}

func (t *txn) retryColumns(table string, columns map[string]kind) error {
	t.retryDDL = append(t.retryDDL, pendingDDL{table: table, columns: maps.Clone(columns)})
	return errRetryTx
}

func (t *txn) retryCreate(table string) error {
	t.retryDDL = append(t.retryDDL, pendingDDL{table: table, create: true})
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
// fn may run more than once, so it must not have effects outside the store
// (or must tolerate running again):
//
//   - When the database picks the transaction as the victim of a deadlock,
//     or fails it to keep transactions serializable, or a lock wait times
//     out, the transaction is rolled back and fn runs again after a short
//     random pause, up to 5 runs in all; then Tx returns an error matching
//     ErrBusy. Inside fn, the call that failed returns an error matching
//     ErrBusy and every later call fails: return the error.
//   - When another Store (another instance of the service) changed a
//     table after this one cached statements over it, Postgres aborts the
//     transaction at the first such statement ("cached plan must not
//     change result type"); the Store forgets what it cached about the
//     table and fn runs again, up to 3 runs in all.
//   - On MySQL, a table or column that a call inside creates is created
//     outside the transaction (MySQL commits on DDL) and stays if it rolls
//     back; when the transaction already used any table, it is rolled back
//     first (it must not hold locks that the schema change, or transactions
//     the schema change waits for, wait for), the schema changed, and fn
//     run again. Creating tables and columns at start-up (EnsureColumns,
//     EnsureIndex) avoids the rerun. A schema change waits at most 30s for
//     other transactions to release the table (lock_wait_timeout).
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		if err := s.checkTx(); err != nil {
			return err
		}
		return fn(s)
	}
	ddlRuns, busyRuns, staleRuns := 0, 0, 0
	for {
		ddl, err := s.runTx(ctx, fn)
		if len(ddl) > 0 {
			if ddlRuns++; ddlRuns == maxTxRuns {
				return fmt.Errorf("db: transaction still needed schema changes after %d runs", ddlRuns)
			}
			for _, p := range ddl {
				if p.create || p.columns != nil {
					t, err := s.ensureTable(ctx, p.table)
					if err == nil && p.columns != nil {
						_, err = s.addColumns(ctx, t, p.columns)
					}
					if err != nil {
						return fmt.Errorf("db: schema change for transaction: %w", err)
					}
				} else if class, err := s.ddl(ctx, p.table, p.stmt); err != nil && class != errDupColumn && class != errDupObject {
					return fmt.Errorf("db: schema change for transaction: %w", err)
				}
				// Forget what changed; the next run looks again.
				s.forget(p.table)
			}
			continue
		}
		if errors.Is(err, errStaleRun) {
			if staleRuns++; staleRuns < maxStaleRuns {
				continue
			}
			return fmt.Errorf("db: transaction still met schema changes after %d runs: %w", staleRuns, err)
		}
		if err == nil || s.c.d.classify(err) != errBusy {
			return err
		}
		if busyRuns++; busyRuns == maxBusyRuns {
			if !errors.Is(err, ErrBusy) {
				err = fmt.Errorf("%w: %w", ErrBusy, err)
			}
			return fmt.Errorf("db: transaction gave up after %d runs: %w", busyRuns, err)
		}
		if berr := backoff(ctx, busyRuns); berr != nil {
			return err
		}
	}
}

// maxBusyRuns bounds how often a transaction runs when the database keeps
// failing it for contention.
const maxBusyRuns = 5

// maxStaleRuns bounds how often a transaction runs again because a statement
// it used predates another store's schema change.
const maxStaleRuns = 3

// errStaleRun marks the error of a transaction run that failed on a cached
// statement older than a schema change: Tx runs it again.
var errStaleRun = errors.New("db: a cached statement predates a schema change")

// backoff pauses before run n+1 of a transaction that lost to contention:
// a random time up to 2ms·4^(n-1), at most 100ms, so that the transactions
// that collided do not collide again.
func backoff(ctx context.Context, n int) error {
	limit := 2 * time.Millisecond << (2 * (n - 1))
	if limit > 100*time.Millisecond {
		limit = 100 * time.Millisecond
	}
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(limit))) + time.Millisecond)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// runTx runs fn once; a non-empty ddl asks for DDL and another run.
func (s *Store) runTx(ctx context.Context, fn func(tx *Store) error) (ddl []pendingDDL, err error) {
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
		s.c.wstmts.warm(ctx)
	}()
	err = fn(ts)
	if len(t.retryDDL) > 0 {
		// Even if fn dropped the error: the transaction missed a column.
		return t.retryDDL, err
	}
	if t.broken != nil && s.c.d.classify(t.broken) == errStalePlan {
		// Another store changed a table under a statement cached here:
		// forget what is cached about it and run again.
		for _, table := range t.stale {
			s.forget(table)
		}
		return nil, fmt.Errorf("%w: %w", errStaleRun, t.broken)
	}
	if t.broken != nil {
		// Even if fn dropped the error: the transaction is gone. Tx runs
		// it again when the cause was contention.
		if err == nil {
			err = fmt.Errorf("db: transaction failed: %w", t.broken)
		} else if s.c.d.classify(err) != errBusy && s.c.d.classify(t.broken) == errBusy {
			err = fmt.Errorf("%w (transaction failed: %w)", err, t.broken)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	t.done.Store(true)
	s.c.stats.statements.Add(1)
	if err := sqlTx.Commit(); err != nil {
		switch s.c.d.classify(err) {
		case errUnique, errDupID:
			return nil, fmt.Errorf("db: commit: %w", s.c.conflict(err))
		case errBusy:
			return nil, fmt.Errorf("db: commit: %w: %w", ErrBusy, err)
		}
		return nil, fmt.Errorf("db: commit: %w", err)
	}
	committed = true
	if len(t.tables) > 0 {
		// What this transaction learned of a table's schema is not
		// published: another transaction that changed the same table may
		// have committed (and published) after this one's commit but
		// before this point, and this view would hide its columns. The
		// next use reads the table again.
		s.c.mu.Lock()
		for name := range t.tables {
			delete(s.c.tables, name)
		}
		s.c.mu.Unlock()
		for name := range t.tables {
			s.c.dropStatements(name)
		}
	}
	for _, ch := range t.changes {
		s.notify(ctx, ch)
	}
	for table := range t.wrote {
		s.wrote(table)
	}
	return nil, nil
}
