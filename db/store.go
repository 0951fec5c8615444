package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxColumns is the column limit of a table when Config.MaxColumns is 0.
const DefaultMaxColumns = 200

// Config configures a Store opened with OpenConfig. Only URL is required.
type Config struct {
	// URL selects the database: sqlite:///./relative.db, sqlite:////abs.db,
	// sqlite://:memory:, postgres:// or postgresql://, mysql://user:pass@host:3306/name.
	URL string

	// MaxLimit is the largest Query.Limit accepted; a larger one is
	// ErrInvalidQuery. Defaults to 1000.
	MaxLimit int

	// MaxOpenConns bounds the connection pool (on SQLite: the read pool; the
	// writer is always one connection). Defaults to 4 on SQLite, 20 otherwise.
	MaxOpenConns int

	// BusyTimeout is how long a SQLite connection waits for a lock held by
	// another process before failing. Defaults to 5s.
	BusyTimeout time.Duration

	// MaxStatements bounds how many prepared statements of its own SQL the
	// store keeps per pool (each is prepared on a connection when first
	// used there; on MySQL they count against the server's
	// max_prepared_stmt_count). Defaults to 128; negative turns the cache
	// off.
	MaxStatements int

	// MaxColumns bounds the columns of a table, the store's own four (id,
	// created_at, updated_at, deleted_at) included. A save or EnsureIndex
	// that would add columns past it adds none and fails with an error
	// matching ErrInvalidQuery that names the limit: every new key of a
	// saved map becomes a column, so a client choosing its own keys could
	// otherwise grow a table up to the database's hard limit (1600 columns
	// on Postgres, 1017 on MySQL). The limit holds under concurrent saves
	// from any number of stores: columns of a table are added one caller at
	// a time, each checking the count first. Defaults to 200.
	MaxColumns int

	// OnOp, when set, is called after every entity operation of the store
	// (get, save, find, count, delete, history), inside transactions too,
	// with the operation's context: the kernel measures them for its
	// metrics and traces. It must be quick and must not use the store.
	// Defaults to nil, which costs an operation nothing.
	OnOp func(ctx context.Context, op Op)
}

func (c Config) withDefaults() Config {
	if c.MaxLimit == 0 {
		c.MaxLimit = 1000
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.MaxStatements == 0 {
		c.MaxStatements = 128
	}
	if c.MaxColumns == 0 {
		c.MaxColumns = DefaultMaxColumns
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.URL == "":
		return errors.New("db: Config.URL is empty: set it to a sqlite://, postgres:// or mysql:// URL")
	case c.MaxLimit < 0:
		return errors.New("db: Config.MaxLimit is negative: use 0 for the default of 1000")
	case c.MaxOpenConns < 0:
		return errors.New("db: Config.MaxOpenConns is negative: use 0 for the default")
	case c.MaxColumns < 0:
		return errors.New("db: Config.MaxColumns is negative: use 0 for the default of 200")
	case c.MaxColumns > 0 && c.MaxColumns < numSystemColumns+1:
		return fmt.Errorf("db: Config.MaxColumns is %d: a table needs its %d own columns and one more at least", c.MaxColumns, numSystemColumns)
	case c.BusyTimeout < 0:
		return errors.New("db: Config.BusyTimeout is negative: use 0 for the default of 5s")
	}
	return nil
}

// Store is the entity store. It is safe for concurrent use. A Store handed
// to the function of Tx runs every call inside that transaction.
// The caller must call Close.
type Store struct {
	c  *core
	tx *txn // nil outside Tx
}

// core is what every Store of one database shares, transactions included.
type core struct {
	d    dialect
	cfg  Config
	w    *sql.DB   // writes (one connection on SQLite)
	r    *sql.DB   // reads; the same as w except on SQLite
	keep *sql.Conn // keeps an in-memory SQLite database alive

	mu        sync.RWMutex
	tables    map[string]*tableInfo
	noHistory map[string]bool
	indexes   map[string][]string // columns of the unique indexes EnsureIndex made, by index name

	obsMu     sync.RWMutex
	observers []func(context.Context, Change)
	// writeObservers are called with the table of every committed write (OnWrite).
	writeObservers []func(table string)

	structs  sync.Map // reflect.Type -> *structInfo
	decoders sync.Map // reflect.Type -> *decodePlan
	parsed   parseCache

	wstmts, rstmts *stmtCache // prepared statements of w and r (the same when w == r)

	gen       atomic.Int64 // last tableInfo generation
	lastMicro atomic.Int64 // last timestamp handed out, for strict order

	stats stats
}

// stats counts what the store sends to the database.
type stats struct {
	statements     atomic.Int64
	introspections atomic.Int64
}

// Open opens the store at url with the default Config. See Config.URL for
// the accepted forms. The caller must call Close.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenConfig(ctx, Config{URL: url})
}

// OpenConfig opens a store configured by cfg and checks that the database
// answers. When it cannot, the error is an *OpenError saying why (matching
// ErrMalformedURL, ErrUnknownHost, ErrConnectionRefused, ErrAuthFailed,
// ErrNoDatabase, ErrNotWritable or ErrTimeout) and what to do. The caller
// must call Close.
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &core{cfg: cfg, tables: map[string]*tableInfo{}, noHistory: map[string]bool{}, indexes: map[string][]string{}}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	c.wstmts = newStmtCache(c.w, cfg.MaxStatements)
	c.rstmts = c.wstmts
	if c.r != c.w {
		c.rstmts = newStmtCache(c.r, cfg.MaxStatements)
	}
	s := &Store{c: c}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, openError(ctx, cfg.URL, err)
	}
	return s, nil
}

// Close closes the store's connections. Calls after Close fail.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("db: Close called on the Store of a transaction")
	}
	errs := []error{s.c.wstmts.close()}
	if s.c.rstmts != s.c.wstmts {
		errs = append(errs, s.c.rstmts.close())
	}
	if s.c.keep != nil {
		errs = append(errs, s.c.keep.Close())
	}
	if s.c.r != s.c.w {
		errs = append(errs, s.c.r.Close())
	}
	errs = append(errs, s.c.w.Close())
	return errors.Join(errs...)
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.w.PingContext(ctx); err != nil {
		return err
	}
	if s.c.r != s.c.w {
		return s.c.r.PingContext(ctx)
	}
	return nil
}

// Dialect names the database behind the store.
func (s *Store) Dialect() DialectName { return s.c.d.name() }

// DB returns the pool used for writes, for the few jobs the store does not
// do (migrations of data, reports). Statements on it bypass the schema
// cache, history and observers.
func (s *Store) DB() *sql.DB { return s.c.w }

// DisableHistory turns history off for the given tables (secrets, churn).
// Their changes are not passed to OnChange observers either, so that an
// audit log never copies a password hash or a token. Call it at start-up,
// before the tables are written.
func (s *Store) DisableHistory(tables ...string) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	for _, t := range tables {
		s.c.noHistory[t] = true
	}
}

func (c *core) historyOn(table string) bool {
	c.mu.RLock()
	off := c.noHistory[table]
	c.mu.RUnlock()
	return !off
}

// now returns the current time, strictly after the last one this store
// handed out, so created_at orders entities in insertion order.
func (c *core) now() string {
	m := time.Now().UnixMicro()
	for {
		last := c.lastMicro.Load()
		if m <= last {
			m = last + 1
		}
		if c.lastMicro.CompareAndSwap(last, m) {
			return FormatTime(time.UnixMicro(m))
		}
	}
}

// querier is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader is where reads go: the transaction, or the read pool.
func (s *Store) reader() querier {
	if s.tx != nil {
		return s.tx.tx
	}
	return s.c.r
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	s.c.stats.statements.Add(1)
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		s.failed(err)
	}
	return res, err
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	s.c.stats.statements.Add(1)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		s.failed(err)
	}
	return rows, err
}

// execT runs a statement of the store's own SQL over table t, prepared
// once and kept in the statement cache.
func (s *Store) execT(ctx context.Context, q querier, t *tableInfo, query string, args ...any) (sql.Result, error) {
	e, tx, err := s.prepared(ctx, q, t, query)
	if e == nil && err == nil {
		res, err := s.exec(ctx, q, query, args...)
		s.noteStale(t, err)
		return res, err
	}
	s.c.stats.statements.Add(1)
	var res sql.Result
	if err == nil {
		st := e.st
		if tx != nil {
			st = tx.StmtContext(ctx, e.st)
		}
		res, err = st.ExecContext(ctx, args...)
		if tx != nil {
			st.Close()
		}
		s.stmtsOf(q).release(e)
	}
	if err != nil {
		s.failed(err)
		s.noteStale(t, err)
	}
	return res, err
}

// queryT is execT for statements that return rows.
func (s *Store) queryT(ctx context.Context, q querier, t *tableInfo, query string, args ...any) (*sql.Rows, error) {
	e, tx, err := s.prepared(ctx, q, t, query)
	if e == nil && err == nil {
		rows, err := s.query(ctx, q, query, args...)
		s.noteStale(t, err)
		return rows, err
	}
	s.c.stats.statements.Add(1)
	var rows *sql.Rows
	if err == nil {
		st := e.st
		if tx != nil {
			// Not closed here: the rows need it; the transaction closes
			// it when it ends.
			st = tx.StmtContext(ctx, e.st)
		}
		rows, err = st.QueryContext(ctx, args...)
		s.stmtsOf(q).release(e)
	}
	if err != nil {
		s.failed(err)
		s.noteStale(t, err)
	}
	return rows, err
}

// prepared finds the cached statement for query on q: nil (run it
// unprepared) for SQL over a table whose schema only this transaction
// knows yet (the statement would not prepare elsewhere), or over a
// querier that is neither a pool nor a transaction of the write pool.
func (s *Store) prepared(ctx context.Context, q querier, t *tableInfo, query string) (*cachedStmt, *sql.Tx, error) {
	if s.tx != nil && s.tx.tables[t.name] == t {
		return nil, nil, nil
	}
	c := s.stmtsOf(q)
	if c == nil {
		return nil, nil, nil
	}
	tx, _ := q.(*sql.Tx)
	e, err := c.acquire(ctx, t.name, query, tx != nil)
	if e == nil || err != nil {
		return nil, nil, err
	}
	return e, tx, nil
}

// stmtsOf is the statement cache of the pool behind q; transactions all
// run on the write pool.
func (s *Store) stmtsOf(q querier) *stmtCache {
	switch q := q.(type) {
	case *sql.Tx:
		return s.c.wstmts
	case *sql.DB:
		if q == s.c.w {
			return s.c.wstmts
		}
		if q == s.c.r {
			return s.c.rstmts
		}
	}
	return nil
}

// failed notes a failed statement: inside Tx, a deadlock or serialization
// failure has ended (MySQL) or aborted (Postgres) the transaction, so no
// later call may run in it (on MySQL it would run outside any transaction);
// so has a cached statement older than a schema change (Postgres), after
// which Tx runs the transaction again.
func (s *Store) failed(err error) {
	if s.tx != nil && s.tx.broken == nil {
		if c := s.c.d.classify(err); c == errBusy || c == errStalePlan {
			s.tx.broken = err
		}
	}
}

// noteStale marks table t, inside Tx, to be forgotten before the next run
// when a statement over it failed for predating a schema change.
func (s *Store) noteStale(t *tableInfo, err error) {
	if err != nil && s.tx != nil && t != nil && s.c.d.classify(err) == errStalePlan {
		s.tx.stale = append(s.tx.stale, t.name)
	}
}

func (s *Store) checkTx() error {
	if s.tx != nil {
		if s.tx.done.Load() {
			return errTxDone
		}
		if len(s.tx.retryDDL) > 0 {
			return errRetryTx
		}
		if s.tx.broken != nil {
			return fmt.Errorf("db: transaction failed earlier and must roll back: %w", s.tx.broken)
		}
	}
	return nil
}

// use notes that the transaction, if any, touches table.
func (s *Store) use(table string) {
	if s.tx != nil {
		s.tx.use(table)
	}
}

// Stats counts the statements a Store sent since it was opened.
type Stats struct {
	Statements     int64 // every statement, transaction control included.
	Introspections int64 // queries reading a table's columns (cold cache, schema changes).
	Prepared       int   // prepared statements kept in the statement cache now.
}

// Stats returns the store's statement counters.
func (s *Store) Stats() Stats {
	st := Stats{Statements: s.c.stats.statements.Load(), Introspections: s.c.stats.introspections.Load()}
	st.Prepared = s.c.wstmts.len()
	if s.c.rstmts != s.c.wstmts {
		st.Prepared += s.c.rstmts.len()
	}
	return st
}
