package db_test

import (
	"testing"

	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshSQLite(t) })
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	base := testenv.PostgresURL(t)
	dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshPostgres(t, base) })
}

func TestMySQL(t *testing.T) {
	t.Parallel()
	base := testenv.MySQLURL(t)
	dbtest.Exercise(t, func(t *testing.T) string { return dbtest.FreshMySQL(t, base) })
}
