package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
)

// txn is the state of one transaction shared by its Store.
type txn struct {
	tx      *sql.Tx
	tables  map[string]*tableInfo // schema learnt inside, published on commit
	changes []Change              // observed on commit
	done    atomic.Bool
}

// Tx runs fn in a transaction. Every call on the Store handed to fn runs in
// it; fn's error or panic rolls it back (the panic then continues), else it
// commits and observers see its changes, in order, after the commit. Calling
// Tx on that Store runs fn in the same transaction. The Store given to fn
// must not be used after fn returns, nor from several goroutines at once.
//
// On MySQL, a table or column that a call inside creates is created outside
// the transaction (MySQL commits on DDL) and stays if it rolls back.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		if err := s.checkTx(); err != nil {
			return err
		}
		return fn(s)
	}
	s.c.stats.statements.Add(1)
	sqlTx, err := s.c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin transaction: %w", err)
	}
	t := &txn{tx: sqlTx, tables: map[string]*tableInfo{}}
	ts := &Store{c: s.c, tx: t}
	committed := false
	defer func() {
		if !committed {
			t.done.Store(true)
			sqlTx.Rollback()
		}
	}()
	if err := fn(ts); err != nil {
		return err
	}
	t.done.Store(true)
	s.c.stats.statements.Add(1)
	if err := sqlTx.Commit(); err != nil {
		if s.c.d.classify(err) == errUnique {
			return fmt.Errorf("db: commit: %v: %w", err, ErrConflict)
		}
		return fmt.Errorf("db: commit: %w", err)
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
	return nil
}
