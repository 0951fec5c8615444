package admin

import (
	"errors"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"appkernel/db"
)

// retryable reports whether a batch's transaction failed for a reason
// that running it again cures: a race with another writer of the same
// events, a deadlock, a serialization failure or a busy database.
func retryable(d db.DialectName, err error) bool {
	if errors.Is(err, ErrRaced) {
		return true
	}
	switch d {
	case db.Postgres:
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			switch pe.Code {
			case "40P01", "40001", "55P03": // deadlock_detected, serialization_failure, lock_not_available
				return true
			}
		}
	case db.MySQL:
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			switch me.Number {
			case 1213, 1205: // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
				return true
			}
		}
	case db.SQLite:
		var se *sqlite.Error
		if errors.As(err, &se) {
			switch se.Code() & 0xff {
			case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
				return true
			}
		}
	}
	return false
}
