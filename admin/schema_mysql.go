package admin

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// isDuplicateIndex reports MySQL's "Duplicate key name" (1061), which a
// second CREATE INDEX of the same name answers.
func isDuplicateIndex(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1061
}
