package db_test

import (
	"testing"

	"appkernel/db"
)

func TestDialectPlaceholders(t *testing.T) {
	const q = "UPDATE t SET a = ? WHERE id = ? AND b < ?"
	for d, want := range map[db.DialectName]string{
		db.Postgres: "UPDATE t SET a = $1 WHERE id = $2 AND b < $3",
		db.MySQL:    q,
		db.SQLite:   q,
	} {
		if got := d.Rebind(q); got != want {
			t.Errorf("%s: Rebind gave %q, want %q", d, got, want)
		}
	}
	if p := db.Postgres.Placeholder(7); p != "$7" {
		t.Errorf("Postgres placeholder 7 is %q", p)
	}
	if p := db.MySQL.Placeholder(7); p != "?" {
		t.Errorf("MySQL placeholder 7 is %q", p)
	}
}
