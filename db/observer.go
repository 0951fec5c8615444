package db

import (
	"context"
	"maps"
)

// Change describes one committed change of an entity, for observers.
type Change struct {
	Op    string // "create", "update", "delete" or "restore".
	Table string // table of the entity.
	ID    string // id of the entity.
	Old   Entity // the entity before the change; nil for a create.
	New   Entity // the entity after it; nil for a permanent delete.
}

// OnChange registers fn to be called once for every committed change, in
// the goroutine that made it, after the commit (never for a rolled-back
// transaction). fn gets its own copies of the entities. Register observers
// at start-up; fn should be quick (hand slow work to a queue).
//
// Changes of tables whose history is disabled (see DisableHistory) are not
// passed to observers: those tables hold secrets (password hashes, tokens)
// that an audit log plugged in here must not copy.
func (s *Store) OnChange(fn func(ctx context.Context, c Change)) {
	s.c.obsMu.Lock()
	defer s.c.obsMu.Unlock()
	obs := make([]func(context.Context, Change), len(s.c.observers), len(s.c.observers)+1)
	copy(obs, s.c.observers)
	s.c.observers = append(obs, fn)
}

// OnWrite registers fn to be called after every committed create, update
// or delete of an entity, in any table, history on or off, with the
// table's name only (never the entity: those tables may hold secrets).
// A transaction calls it once per table it wrote, after its commit. It is
// meant for waking a worker in this process (a webhook dispatcher) when
// rows it waits for have committed; fn must not block.
func (s *Store) OnWrite(fn func(table string)) {
	s.c.obsMu.Lock()
	defer s.c.obsMu.Unlock()
	w := make([]func(string), len(s.c.writeObservers), len(s.c.writeObservers)+1)
	copy(w, s.c.writeObservers)
	s.c.writeObservers = append(w, fn)
}

// wrote calls the OnWrite observers for table.
func (s *Store) wrote(table string) {
	s.c.obsMu.RLock()
	obs := s.c.writeObservers
	s.c.obsMu.RUnlock()
	for _, fn := range obs {
		fn(table)
	}
}

// changed reports a change now, or on commit inside Tx.
func (s *Store) changed(ctx context.Context, ch Change) {
	if s.tx != nil {
		if s.tx.wrote == nil {
			s.tx.wrote = map[string]bool{}
		}
		s.tx.wrote[ch.Table] = true
	} else {
		s.wrote(ch.Table)
	}
	if !s.c.historyOn(ch.Table) {
		return // secrets and churn: not for audit logs either
	}
	if s.tx != nil {
		s.tx.changes = append(s.tx.changes, ch)
		return
	}
	s.notify(ctx, ch)
}

func (s *Store) notify(ctx context.Context, ch Change) {
	s.c.obsMu.RLock()
	obs := s.c.observers
	s.c.obsMu.RUnlock()
	for _, fn := range obs {
		c := ch
		if c.Old != nil {
			c.Old = maps.Clone(c.Old)
		}
		if c.New != nil {
			c.New = maps.Clone(c.New)
		}
		fn(ctx, c)
	}
}
