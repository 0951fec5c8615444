package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// connect opens the pools the URL asks for.
func (c *core) connect(ctx context.Context) error {
	raw := c.cfg.URL
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return malformed(raw, "no scheme", nil)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		return c.openSQLite(ctx, raw[len(scheme)+3:])
	case "postgres", "postgresql":
		return c.openPostgres(raw)
	case "mysql", "mariadb":
		return c.openMySQL(ctx, raw)
	}
	return malformed(raw, fmt.Sprintf("unknown scheme %q", scheme), nil)
}

// redact masks the password of a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			if i := strings.Index(raw, "://"); i >= 0 && i < at {
				userinfo := raw[i+3 : at]
				if name, _, ok := strings.Cut(userinfo, ":"); ok {
					return raw[:i+3] + name + ":xxxxx" + raw[at:]
				}
			}
		}
		return raw
	}
	return u.Redacted()
}

func (c *core) openSQLite(ctx context.Context, rest string) error {
	path, rawQuery, _ := strings.Cut(rest, "?")
	if _, err := url.ParseQuery(rawQuery); err != nil {
		return malformed(c.cfg.URL, "malformed query", err)
	}
	busy := strconv.FormatInt(c.cfg.BusyTimeout.Milliseconds(), 10)
	// case_sensitive_like makes LIKE behave as on Postgres and MySQL (with
	// the utf8mb4_bin collation the store uses there).
	common := "_pragma=busy_timeout(" + busy + ")&_pragma=foreign_keys(1)&_pragma=case_sensitive_like(1)"
	var name, writeDSN, readDSN string
	if path == ":memory:" || path == "" {
		// Several connections must see one database: a uniquely named
		// database of the memdb VFS is shared by the connections of this
		// process that name it, and locks like a file.
		var b [8]byte
		_, _ = rand.Read(b[:])
		name = "file:/appkernel-" + hex.EncodeToString(b[:]) + "?vfs=memdb&"
		writeDSN = name + common + "&_txlock=immediate"
		readDSN = name + common
	} else {
		path = strings.TrimPrefix(path, "/") // sqlite:///./rel.db and sqlite:////abs.db
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return openError(ctx, c.cfg.URL, err)
			}
		}
		name = "file:" + path + "?"
		common += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
		writeDSN = name + common + "&_txlock=immediate"
		readDSN = name + common + "&_pragma=query_only(1)"
	}
	if rawQuery != "" {
		writeDSN += "&" + rawQuery
		readDSN += "&" + rawQuery
	}
	w, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return fmt.Errorf("db: open %q: %w", c.cfg.URL, err)
	}
	// One writer: concurrent writers queue in the pool instead of failing
	// with "database is locked".
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer creates the file (and sets WAL) before readers open it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return openError(ctx, c.cfg.URL, err)
	}
	r, err := sql.Open("sqlite", readDSN)
	if err != nil {
		w.Close()
		return fmt.Errorf("db: open %q: %w", c.cfg.URL, err)
	}
	n := c.cfg.MaxOpenConns
	if n == 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	c.d, c.w, c.r = sqliteDialect{}, w, r
	if strings.HasPrefix(name, "file:/appkernel-") {
		// The in-memory database lives while one connection is open.
		keep, err := w.Conn(ctx)
		if err == nil {
			// Hand the writer's one connection back, keep a reader's.
			keep.Close()
			r.SetMaxOpenConns(n + 1)
			keep, err = r.Conn(ctx)
		}
		if err != nil {
			w.Close()
			r.Close()
			return fmt.Errorf("db: open %q: %w", c.cfg.URL, err)
		}
		c.keep = keep
	}
	return nil
}

func (c *core) openPostgres(raw string) error {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return malformed(raw, "not a Postgres URL", err)
	}
	d := stdlib.OpenDB(*cfg)
	n := c.cfg.MaxOpenConns
	if n == 0 {
		n = 20
	}
	d.SetMaxOpenConns(n)
	d.SetMaxIdleConns(n)
	c.d, c.w, c.r = postgresDialect{}, d, d
	return nil
}

func (c *core) openMySQL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return malformed(raw, "not a MySQL URL", nil)
	}
	mc := mysql.NewConfig()
	if u.User != nil {
		mc.User = u.User.Username()
		mc.Passwd, _ = u.User.Password()
	}
	mc.Net = "tcp"
	mc.Addr = u.Host
	if u.Port() == "" {
		mc.Addr = u.Host + ":3306"
	}
	mc.DBName = strings.TrimPrefix(u.Path, "/")
	if mc.DBName == "" {
		return malformed(raw, "the MySQL URL names no database", nil)
	}
	// utf8mb4_bin: case-sensitive comparison of literals, as on Postgres
	// and SQLite. Columns compare with their tables' collation, which is
	// also binary and, where the server has one, NO PAD (see
	// mysqlCollations).
	mc.Collation = "utf8mb4_bin"
	dsn := mc.FormatDSN()
	if u.RawQuery != "" {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		if mc, err = mysql.ParseDSN(dsn + sep + u.RawQuery); err != nil {
			return malformed(raw, "malformed MySQL parameters", err)
		}
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return fmt.Errorf("db: MySQL URL %q: %v", redact(raw), err)
	}
	d := sql.OpenDB(sessionConnector{connector, mysqlSession})
	n := c.cfg.MaxOpenConns
	if n == 0 {
		n = 20
	}
	d.SetMaxOpenConns(n)
	d.SetMaxIdleConns(n)
	coll, err := mysqlCollation(ctx, d)
	if err != nil {
		d.Close()
		return openError(ctx, raw, err)
	}
	c.d, c.w, c.r = mysqlDialect{collation: coll}, d, d
	return nil
}

// mysqlSession is run on every new MySQL connection.
//
// READ COMMITTED, as on Postgres: under MySQL's default REPEATABLE READ,
// looking for a row that is not there (the existence check of a save with
// a new id) and reading the last history version lock the gap where the row
// would go, and two transactions inserting into one gap deadlock.
//
// lock_wait_timeout bounds how long a statement waits for a metadata lock
// (a schema change behind open transactions); the server default is a year.
var mysqlSession = []string{
	"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	"SET SESSION lock_wait_timeout = " + strconv.Itoa(int(mysqlLockWait.Seconds())),
}

// mysqlLockWait is the lock_wait_timeout of the store's MySQL sessions.
const mysqlLockWait = 30 * time.Second

// sessionConnector runs statements on each new connection before the pool
// hands it out.
type sessionConnector struct {
	driver.Connector
	init []string
}

func (c sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("db: driver connection %T cannot run session statements", conn)
	}
	for _, q := range c.init {
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("db: setting up session (%s): %w", q, err)
		}
	}
	return conn, nil
}
