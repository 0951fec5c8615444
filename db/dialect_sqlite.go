package db

import (
	"errors"
	"strings"

	"modernc.org/sqlite"
)

type sqliteDialect struct{}

var _ dialect = sqliteDialect{}

func (sqliteDialect) name() DialectName { return SQLite }

func (sqliteDialect) quote(ident string) string { return `"` + ident + `"` }

func (sqliteDialect) placeholder(int) string { return "?" }

func (sqliteDialect) createTable(table string) string {
	return `CREATE TABLE IF NOT EXISTS "` + table + `" (` +
		`"id" TEXT NOT NULL PRIMARY KEY, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL, "deleted_at" TEXT)`
}

func (sqliteDialect) createHistory(table string) string {
	h := historyTable(table)
	return `CREATE TABLE IF NOT EXISTS "` + h + `" (` +
		`"entity_id" TEXT NOT NULL, "version" INTEGER NOT NULL, "op" TEXT NOT NULL, ` +
		`"data" TEXT NOT NULL, "changed_at" TEXT NOT NULL, PRIMARY KEY ("entity_id", "version"))`
}

func (sqliteDialect) typeOf(k kind) string {
	switch k {
	case kindInt:
		return "INTEGER"
	case kindFloat:
		return "REAL"
	case kindBool:
		return "BOOLEAN"
	case kindJSON:
		return "JSON"
	}
	return "TEXT"
}

func (d sqliteDialect) addColumn(table, column string, k kind) string {
	return `ALTER TABLE "` + table + `" ADD COLUMN "` + column + `" ` + d.typeOf(k)
}

func (sqliteDialect) createIndex(table, index string, columns []string, _ []kind, unique bool) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString(`INDEX IF NOT EXISTS "` + index + `" ON "` + table + `" (`)
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + c + `"`)
	}
	b.WriteString(")")
	return b.String()
}

// columnsQuery matches the table name exactly: SQLite itself would take
// "Notes" for the table "notes" (see ensureTable).
func (sqliteDialect) columnsQuery() string {
	return `SELECT p.name, p.type FROM sqlite_master AS m, pragma_table_info(m.name) AS p ` +
		`WHERE m.type = 'table' AND m.name = ? ORDER BY p.cid`
}

func (sqliteDialect) kindOf(t string) kind {
	switch strings.ToUpper(t) {
	case "INTEGER", "INT", "BIGINT":
		return kindInt
	case "REAL", "DOUBLE", "FLOAT":
		return kindFloat
	case "BOOLEAN", "BOOL":
		return kindBool
	case "JSON":
		return kindJSON
	}
	return kindText
}

func (sqliteDialect) onConflictIDNothing() string { return ` ON CONFLICT ("id") DO NOTHING` }

func (sqliteDialect) forUpdate() string { return "" }

func (sqliteDialect) ddlInTx() bool { return true }

func (sqliteDialect) classify(err error) errClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return errOther
	}
	msg := se.Error()
	switch se.Code() {
	case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
		return errUnique
	}
	switch se.Code() & 0xff {
	case 5, 6: // SQLITE_BUSY (after the busy timeout; BUSY_SNAPSHOT included), SQLITE_LOCKED
		return errBusy
	}
	switch {
	case strings.Contains(msg, "duplicate column name"):
		return errDupColumn
	case strings.Contains(msg, "already exists"):
		return errDupObject
	case strings.Contains(msg, "no such table"):
		return errNoTable
	case strings.Contains(msg, "no such column"):
		return errNoColumn
	}
	return errOther
}

// uniqueViolated reads the columns of "UNIQUE constraint failed: t.a, t.b":
// SQLite names no index.
func (sqliteDialect) uniqueViolated(err error) (string, []string) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", nil
	}
	msg := se.Error()
	i := strings.LastIndex(msg, "constraint failed: ")
	if i < 0 {
		return "", nil
	}
	list, _, _ := strings.Cut(msg[i+len("constraint failed: "):], " (")
	var cols []string
	for _, c := range strings.Split(list, ", ") {
		if i := strings.LastIndexByte(c, '.'); i >= 0 {
			c = c[i+1:]
		}
		cols = append(cols, c)
	}
	return "", cols
}

func (sqliteDialect) likeEscape() string { return ` ESCAPE '\'` }

func (sqliteDialect) charLength() string { return "LENGTH" }

func (sqliteDialect) nameLock() (lock, unlock, lockTx string) { return "", "", "" }

func (sqliteDialect) lockTable(string) string { return "" }

func (sqliteDialect) tableCaseQuery() string {
	return `SELECT name FROM sqlite_master WHERE type = 'table' AND lower(name) = lower(?) AND name <> ?`
}
