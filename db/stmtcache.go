package db

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// stmtCache keeps prepared statements of the store's own SQL for one pool,
// by statement text, so that a warm call skips parsing (SQLite) or the
// prepare round trip (MySQL). A statement prepared on a *sql.DB works on
// every connection of the pool: database/sql prepares it again on a
// connection that lacks it.
//
// Entries are counted while a call uses them; one that is dropped (its
// table changed, the cache is full, the store closes) is closed when its
// last user is done. Statements of a transaction bound to a cached one keep
// it open until the transaction ends (database/sql tracks that).
type stmtCache struct {
	db  *sql.DB
	max int

	mu     sync.Mutex
	byText map[string]*cachedStmt
	closed bool
	// wanted are texts missed inside a transaction, table by text: they
	// are prepared once the transaction has ended (preparing on the pool
	// while holding one of its connections could wait for ever: SQLite's
	// writer pool has one).
	wanted map[string]string
	nwant  atomic.Int32
}

type cachedStmt struct {
	st    *sql.Stmt
	text  string
	table string
	refs  int  // calls using st now; guarded by stmtCache.mu
	dead  bool // dropped from the cache: close when refs reaches 0
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, byText: map[string]*cachedStmt{}}
}

// acquire returns the prepared statement of text over table, preparing it
// on first use. It returns nil (run the text unprepared) when the cache is
// off or closed, or when inTx and the statement is not prepared yet (it is
// then prepared by warm). The caller must release a non-nil result.
func (c *stmtCache) acquire(ctx context.Context, table, text string, inTx bool) (*cachedStmt, error) {
	if c == nil || c.max <= 0 {
		return nil, nil
	}
	c.mu.Lock()
	if e := c.byText[text]; e != nil {
		e.refs++
		c.mu.Unlock()
		return e, nil
	}
	closed := c.closed
	if inTx && !closed && len(c.wanted) < c.max {
		if c.wanted == nil {
			c.wanted = map[string]string{}
		}
		c.wanted[text] = table
		c.nwant.Store(int32(len(c.wanted)))
	}
	c.mu.Unlock()
	if closed || inTx {
		return nil, nil
	}
	return c.prepare(ctx, table, text)
}

// warm prepares the statements missed inside transactions. Call it while
// holding no connection of the pool.
func (c *stmtCache) warm(ctx context.Context) {
	if c == nil || c.nwant.Load() == 0 {
		return
	}
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.nwant.Store(0)
	c.mu.Unlock()
	for text, table := range wanted {
		if e, err := c.prepare(ctx, table, text); err == nil && e != nil {
			c.release(e)
		}
	}
}

func (c *stmtCache) prepare(ctx context.Context, table, text string) (*cachedStmt, error) {
	st, err := c.db.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if e := c.byText[text]; e != nil { // prepared meanwhile by another call
		e.refs++
		c.mu.Unlock()
		st.Close()
		return e, nil
	}
	e := &cachedStmt{st: st, text: text, table: table, refs: 1}
	if c.closed {
		e.dead = true // closed by release
		c.mu.Unlock()
		return e, nil
	}
	var drop []*sql.Stmt
	if len(c.byText) >= c.max {
		// Full: drop one entry (map order is random enough for a cache
		// whose working set normally fits).
		for _, old := range c.byText {
			drop = c.dropLocked(old, drop)
			break
		}
	}
	c.byText[text] = e
	c.mu.Unlock()
	closeLater(drop)
	return e, nil
}

// closeLater closes statements in the background: sql.Stmt.Close waits
// for each connection it was prepared on, and a connection may be busy
// for long (a schema change waiting for the caller's own transaction).
func closeLater(sts []*sql.Stmt) {
	if len(sts) > 0 {
		go closeAll(sts)
	}
}

func closeAll(sts []*sql.Stmt) error {
	var errs []error
	for _, st := range sts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// release ends a use of e.
func (c *stmtCache) release(e *cachedStmt) {
	c.mu.Lock()
	e.refs--
	closeNow := e.dead && e.refs == 0
	c.mu.Unlock()
	if closeNow {
		closeLater([]*sql.Stmt{e.st})
	}
}

// dropLocked removes e and adds its statement to those to close (after
// unlocking: closing may talk to the server) unless a call still uses it.
// Open rows and transactions keep a closed sql.Stmt alive as needed.
func (c *stmtCache) dropLocked(e *cachedStmt, toClose []*sql.Stmt) []*sql.Stmt {
	delete(c.byText, e.text)
	e.dead = true
	if e.refs == 0 {
		toClose = append(toClose, e.st)
	}
	return toClose
}

// dropTable drops the statements over table, after its schema changed.
func (c *stmtCache) dropTable(table string) {
	if c == nil {
		return
	}
	var drop []*sql.Stmt
	c.mu.Lock()
	for _, e := range c.byText {
		if e.table == table {
			drop = c.dropLocked(e, drop)
		}
	}
	c.mu.Unlock()
	closeLater(drop)
}

// len reports how many statements are cached.
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byText)
}

// close drops every statement; later acquires run unprepared.
func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	var drop []*sql.Stmt
	c.mu.Lock()
	c.closed = true
	for _, e := range c.byText {
		drop = c.dropLocked(e, drop)
	}
	c.mu.Unlock()
	return closeAll(drop)
}
