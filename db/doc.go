// Package db is the kernel's schemaless entity store.
//
// A Store keeps entities (map[string]any values with a string "id") in tables
// of SQLite, PostgreSQL or MySQL/MariaDB through database/sql. Tables and
// columns are created on first use, typed from the first non-nil value saved
// into them; every entity gets an "id" (UUIDv7 unless given), "created_at",
// "updated_at" and "deleted_at", and every change is recorded in a
// "{table}_history" table unless history is disabled for that table.
//
// Where clauses are written in one small dialect-neutral grammar with
// bracketed column names and "?" placeholders:
//
//	store.FindEntities(ctx, "widgets", db.Query{
//		Where:   "[owner_id] = ? AND [size] BETWEEN ? AND ?",
//		Params:  []any{userID, 1, 10},
//		OrderBy: "[created_at] DESC",
//		Limit:   20,
//	})
//
// Anything outside the grammar (";", comments, bare identifiers,
// sub-queries, unknown functions) is rejected with ErrInvalidQuery before a
// statement reaches the database. Values are always bound, never spliced.
//
// A value (a ? or a literal) is compared as the type of the column, or
// expression over columns, it is compared with, so the three databases
// answer alike: "7" is 7 for an integer column, 0 is "0" for a text column,
// and a value that cannot be that type ("abc" or 2.5 for an integer column)
// is ErrInvalidQuery, never a match. Clauses that do not type (columns of
// different types compared, LOWER of a number, a ? compared with no
// column) are ErrInvalidQuery on every database.
//
// Values come back with the Go type they were saved with on every database:
// string, int64, float64, bool, nil, map[string]any or []any for JSON (whose
// nested numbers are float64, as with encoding/json), and time.Time values as
// fixed-width UTC strings ("2006-01-02T15:04:05.000000Z") so that text order
// is time order.
//
// # Opening
//
// Open takes sqlite:///./relative.db, sqlite:////absolute.db,
// sqlite://:memory: (a private in-memory database shared by the store's
// connections), postgres:// or postgresql:// (pgx), and
// mysql://user:pass@host:3306/name (MySQL and MariaDB). SQLite runs in WAL
// mode with a busy timeout and foreign keys on, with one writer connection
// beside a read pool, so concurrent writers queue instead of failing.
// When the database cannot be opened, the error is an *OpenError that says
// why and what to do, matching one of ErrMalformedURL, ErrUnknownHost,
// ErrConnectionRefused, ErrAuthFailed, ErrNoDatabase, ErrNotWritable and
// ErrTimeout.
//
// # Errors
//
// Errors wrap the sentinels ErrNotFound, ErrInvalidQuery, ErrInvalidName,
// ErrConflict, ErrTypeMismatch and ErrBusy (test with errors.Is); each
// carries the HTTP status and code the kernel's error writer shows (404
// not_found, 400 invalid_query, 400 invalid_name, 409 conflict, 422
// type_mismatch, 503 busy). Their text is for logs and may hold the
// driver's message; where it does (a unique violation is a *ConflictError),
// the error has a ClientMessage method in the kernel's words, which the
// kernel's error writer shows instead.
//
// Deadlocks, serialization failures and lock wait timeouts are the
// database's way to end one of two colliding transactions. The store runs
// its own writes again, and Tx runs fn again (so fn may run more than
// once), a few times with a short random pause before giving up with
// ErrBusy.
//
// # Schema
//
// What the store knows of each table is cached: once warm, reads and writes
// send no introspection query. Two stores (two service instances) creating
// the same table or column at the same moment both succeed. A column
// another instance added is picked up when a read returns it or a where
// clause names it. Column names are compared case-insensitively ("Email"
// next to "email" is ErrInvalidName), as SQLite and MySQL do.
// A table has at most Config.MaxColumns columns (200 by default):
// a save whose new fields would pass the limit adds none and fails with a
// *ColumnLimitError, even when several stores add columns at once.
//
// The statements the store writes are prepared once and kept per
// connection pool (Config.MaxStatements), so a warm call sends no SQL text
// to parse; a table's statements are dropped when its schema changes.
//
// # Differences between databases
//
// The store hides them where it can; what remains:
//
//   - Postgres cannot store the NUL character in text.
//   - MySQL indexes text columns by their first 255 characters, so a
//     unique index compares only those.
//   - MySQL commits on DDL, so a table or column created inside Tx is
//     created outside the transaction; when the transaction already used
//     any table, Tx rolls back first (never waiting for a schema change
//     while holding locks), changes the schema and runs fn again. A schema
//     change waits at most 30s for other transactions (lock_wait_timeout).
//   - MySQL sessions run at READ COMMITTED, the isolation Postgres runs
//     at, so that existence checks of new ids take no gap locks (under
//     MySQL's default REPEATABLE READ, concurrent saves of new ids
//     deadlock).
//   - On SQLite, one transaction writes at a time: inside Tx, write through
//     the Store handed to fn, never the outer one.
//
// Unique indexes ignore NULLs and include soft-deleted entities everywhere;
// comparisons and LIKE are case-sensitive everywhere.
package db
