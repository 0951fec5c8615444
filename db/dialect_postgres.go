package db

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

type postgresDialect struct{}

var _ dialect = postgresDialect{}

func (postgresDialect) name() DialectName { return Postgres }

func (postgresDialect) quote(ident string) string { return `"` + ident + `"` }

func (postgresDialect) placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (postgresDialect) createTable(table string) string {
	return `CREATE TABLE IF NOT EXISTS "` + table + `" (` +
		`"id" TEXT NOT NULL PRIMARY KEY, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL, "deleted_at" TEXT)`
}

func (postgresDialect) createHistory(table string) string {
	h := historyTable(table)
	return `CREATE TABLE IF NOT EXISTS "` + h + `" (` +
		`"entity_id" TEXT NOT NULL, "version" BIGINT NOT NULL, "op" TEXT NOT NULL, ` +
		`"data" TEXT NOT NULL, "changed_at" TEXT NOT NULL, PRIMARY KEY ("entity_id", "version"))`
}

func (postgresDialect) typeOf(k kind) string {
	switch k {
	case kindInt:
		return "BIGINT"
	case kindFloat:
		return "DOUBLE PRECISION"
	case kindBool:
		return "BOOLEAN"
	case kindJSON:
		return "JSONB"
	}
	return "TEXT"
}

func (d postgresDialect) addColumn(table, column string, k kind) string {
	return `ALTER TABLE "` + table + `" ADD COLUMN IF NOT EXISTS "` + column + `" ` + d.typeOf(k)
}

func (postgresDialect) createIndex(table, index string, columns []string, _ []kind, unique bool) string {
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

func (postgresDialect) columnsQuery() string {
	return `SELECT column_name, data_type FROM information_schema.columns ` +
		`WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
}

func (postgresDialect) kindOf(t string) kind {
	switch t {
	case "bigint", "integer", "smallint":
		return kindInt
	case "double precision", "real", "numeric":
		return kindFloat
	case "boolean":
		return kindBool
	case "jsonb", "json":
		return kindJSON
	}
	return kindText
}

func (postgresDialect) onConflictIDNothing() string { return ` ON CONFLICT ("id") DO NOTHING` }

func (postgresDialect) forUpdate() string { return " FOR UPDATE" }

func (postgresDialect) ddlInTx() bool { return true }

func (postgresDialect) classify(err error) errClass {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		// pgx refuses to send a value of another type than the one the
		// server inferred for its placeholder (1 for the ? of "? = ?",
		// which is text); pgx has no error type for it.
		if strings.HasPrefix(err.Error(), "failed to encode args[") {
			return errQueryTypes
		}
		return errOther
	}
	switch pe.Code {
	case "23505":
		// A concurrent CREATE TABLE/INDEX IF NOT EXISTS can lose the race
		// on the catalog's own unique indexes.
		if strings.HasPrefix(pe.ConstraintName, "pg_") {
			return errDupObject
		}
		return errUnique
	case "42701":
		return errDupColumn
	case "42P07", "42710":
		return errDupObject
	case "40P01", "40001", "55P03": // deadlock_detected, serialization_failure, lock_not_available
		return errBusy
	case "42P01":
		return errNoTable
	case "42703":
		return errNoColumn
	case "42P18", "42883", "42725", "42804": // indeterminate_datatype, undefined_function, ambiguous_function, datatype_mismatch
		return errQueryTypes
	case "22021", "22P05": // character_not_in_repertoire (invalid UTF-8, NUL), untranslatable_character
		return errBadText
	case "0A000":
		if strings.Contains(pe.Message, "cached plan") {
			return errStalePlan
		}
	}
	return errOther
}

func (postgresDialect) uniqueViolated(err error) (string, []string) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return "", nil
	}
	if pe.TableName != "" && pe.ConstraintName == pe.TableName+"_pkey" {
		return "", []string{"id"}
	}
	return pe.ConstraintName, nil
}

func (postgresDialect) likeEscape() string { return "" }

func (postgresDialect) charLength() string { return "LENGTH" }

func (postgresDialect) nameLock() (lock, unlock, lockTx string) {
	return "SELECT 1 FROM pg_advisory_lock(hashtextextended($1, 0))",
		"SELECT pg_advisory_unlock(hashtextextended($1, 0))",
		"SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
}

func (d postgresDialect) lockTable(table string) string {
	return "LOCK TABLE " + d.quote(table) + " IN ACCESS EXCLUSIVE MODE"
}

func (postgresDialect) tableCaseQuery() string {
	return `SELECT table_name FROM information_schema.tables ` +
		`WHERE table_schema = current_schema() AND lower(table_name) = lower($1) AND table_name <> $2`
}
