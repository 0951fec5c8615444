package admin

import (
	"errors"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// isDuplicateIndex reports MySQL's "Duplicate key name" (1061), which a
// second CREATE INDEX of the same name answers.
func isDuplicateIndex(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1061
}

// isCreateRace reports Postgres refusing a CREATE … IF NOT EXISTS that
// raced another one for the same name (its catalog's unique violation, or
// the object appearing in between): run again, the statement then finds it.
func isCreateRace(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710")
}
