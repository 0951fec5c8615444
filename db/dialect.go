package db

import "strings"

// DialectName names the database behind a Store.
type DialectName string

// The dialects a Store can run on.
const (
	SQLite   DialectName = "sqlite"
	Postgres DialectName = "postgres"
	MySQL    DialectName = "mysql"
)

// errClass is what a dialect makes of a driver error.
type errClass uint8

const (
	errOther      errClass = iota
	errUnique              // a unique index was violated.
	errDupID               // the primary key (id) was violated.
	errDupColumn           // ADD COLUMN of a column that exists.
	errDupObject           // CREATE of a table or index that exists.
	errNoTable             // the table does not exist.
	errNoColumn            // a column does not exist.
	errStalePlan           // a cached plan predates a schema change.
	errBusy                // a deadlock, serialization failure or lock timeout: run the transaction again.
	errQueryTypes          // the caller's clause does not type-check (a ? of unknown type, lower() of a number).
	errBadText             // a text value is not UTF-8 or holds NUL, which the database cannot store or compare.
)

// dialect holds everything that differs between databases. One file per
// database implements it; nothing else in the package branches on the
// database.
type dialect interface {
	name() DialectName
	// quote quotes an identifier that has passed validName.
	quote(ident string) string
	// placeholder is the n-th (1-based) bind parameter.
	placeholder(n int) string
	// createTable is the DDL of an entity table with its system columns.
	createTable(table string) string
	// createHistory is the DDL of the history table of table.
	createHistory(table string) string
	// addColumn is the DDL adding a column of kind k.
	addColumn(table, column string, k kind) string
	// createIndex is the DDL of an index; kinds are those of columns.
	createIndex(table, index string, columns []string, kinds []kind, unique bool) string
	// columnsQuery lists (name, type) of a table's columns in table order;
	// its one parameter is the table name. No rows: no table.
	columnsQuery() string
	// kindOf maps a type reported by columnsQuery to a kind.
	kindOf(dbType string) kind
	// onConflictIDNothing is appended to an INSERT of an entity so that an
	// existing id makes it insert nothing (0 rows affected) instead of
	// failing; where that is not possible it is "" and the INSERT fails
	// with an error that classify reports as errDupID.
	onConflictIDNothing() string
	// forUpdate is appended to a SELECT that reads a row about to change.
	forUpdate() string
	// ddlInTx reports whether DDL may run inside a transaction without
	// ending it; when false it runs on its own connection.
	ddlInTx() bool
	// classify tells what a driver error means to the store.
	classify(err error) errClass
	// uniqueViolated names what a driver error classified errUnique or
	// errDupID violated: the index (or constraint) name where the database
	// gives one, the columns where it gives those instead (SQLite); "id"
	// for the primary key.
	uniqueViolated(err error) (index string, columns []string)
	// tableCaseQuery lists the tables whose name equals its first parameter
	// but for case (and not exactly: the second parameter is the same name).
	tableCaseQuery() string
	// nameLock returns the statements that take (answering 1) and release
	// a lock on a name across processes (one parameter: the name), and the one that
	// takes it until the transaction ends ("" where DDL never runs in a
	// transaction); all "" where the database needs none (SQLite, whose
	// table names are one whatever their case).
	nameLock() (lock, unlock, lockTx string)
	// lockTable locks table in a transaction as ALTER TABLE would, until
	// it ends; "" where adding columns needs no lock (column names that
	// differ only in case are one column there).
	lockTable(table string) string
	// likeEscape follows the pattern of a LIKE so that a backslash escapes
	// % and _ (and itself): "" where that is the default (Postgres, MySQL).
	likeEscape() string
	// charLength is the function that counts the characters (not bytes)
	// of text, which the where clause's LENGTH means.
	charLength() string
}

// placeholders writes n placeholders starting at first, comma separated.
func placeholders(d dialect, b *strings.Builder, first, n int) {
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.placeholder(first + i))
	}
}

// dialectOf returns the implementation of a dialect name.
func dialectOf(d DialectName) dialect {
	switch d {
	case Postgres:
		return postgresDialect{}
	case MySQL:
		return mysqlDialect{}
	}
	return sqliteDialect{}
}

// Placeholder returns the n-th (from 1) bind parameter of a statement
// written by hand for Store.DB(): "$n" on Postgres, "?" on SQLite and
// MySQL.
func (d DialectName) Placeholder(n int) string { return dialectOf(d).placeholder(n) }

// Rebind rewrites the "?" bind parameters of a statement written by hand
// for Store.DB() into the dialect's own (q must hold no other "?").
func (d DialectName) Rebind(q string) string {
	if d.Placeholder(1) == "?" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(d.Placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
