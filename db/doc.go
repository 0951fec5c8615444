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
// Values come back with the Go type they were saved with on every database:
// string, int64, float64, bool, nil, map[string]any or []any for JSON (whose
// nested numbers are float64, as with encoding/json), and time.Time values as
// fixed-width UTC strings ("2006-01-02T15:04:05.000000Z") so that text order
// is time order.
package db
