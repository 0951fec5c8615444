package db

import (
	"context"
	"time"
)

// Op describes one finished entity operation of the store, for
// Config.OnOp.
type Op struct {
	Name     string        // OpGet, OpSave, OpFind, OpCount, OpDelete or OpHistory
	Table    string        // the table it was on, as the caller named it
	Start    time.Time     // when it started
	Duration time.Duration // how long it took
	Err      error         // its error; ErrNotFound for a get of a missing entity
}

// The names of Op.
const (
	OpGet     = "get"
	OpSave    = "save"
	OpFind    = "find"
	OpCount   = "count"
	OpDelete  = "delete"
	OpHistory = "history"
)

// opDone reports an operation that started at start to Config.OnOp.
func (s *Store) opDone(ctx context.Context, name, table string, start time.Time, err *error) {
	s.c.cfg.OnOp(ctx, Op{Name: name, Table: table, Start: start, Duration: time.Since(start), Err: *err})
}
