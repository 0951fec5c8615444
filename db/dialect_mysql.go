package db

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

type mysqlDialect struct {
	collation string // of the tables it creates; "" is utf8mb4_bin
}

var _ dialect = mysqlDialect{}

// jsonComment marks JSON columns: MariaDB reports its JSON type as longtext.
const jsonComment = "appkernel:json"

// mysqlIndexPrefix is the prefix length used to index text columns.
const mysqlIndexPrefix = 255

func (mysqlDialect) name() DialectName { return MySQL }

func (mysqlDialect) quote(ident string) string { return "`" + ident + "`" }

func (mysqlDialect) placeholder(int) string { return "?" }

// mysqlCollations are the binary, NO PAD collations of utf8mb4, best
// first: MySQL 8's and MariaDB's. Binary makes comparisons and unique
// indexes case-sensitive; NO PAD keeps trailing spaces significant ("a"
// and "a " are two ids), as on Postgres and SQLite. A server with neither
// (MySQL 5.7) gets utf8mb4_bin, which ignores trailing spaces.
var mysqlCollations = []string{"utf8mb4_0900_bin", "utf8mb4_nopad_bin"}

// mysqlCollation picks the collation the store creates its tables with.
func mysqlCollation(ctx context.Context, d *sql.DB) (string, error) {
	for _, c := range mysqlCollations {
		var n int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ?", c).Scan(&n); err != nil {
			return "", err
		}
		if n > 0 {
			return c, nil
		}
	}
	return "utf8mb4_bin", nil
}

func (d mysqlDialect) tableOptions() string {
	c := d.collation
	if c == "" {
		c = "utf8mb4_bin"
	}
	return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=" + c
}

func (d mysqlDialect) createTable(table string) string {
	return "CREATE TABLE IF NOT EXISTS `" + table + "` (" +
		"`id` VARCHAR(255) NOT NULL PRIMARY KEY, `created_at` VARCHAR(32) NOT NULL, " +
		"`updated_at` VARCHAR(32) NOT NULL, `deleted_at` VARCHAR(32) NULL)" + d.tableOptions()
}

func (d mysqlDialect) createHistory(table string) string {
	h := historyTable(table)
	return "CREATE TABLE IF NOT EXISTS `" + h + "` (" +
		"`entity_id` VARCHAR(255) NOT NULL, `version` BIGINT NOT NULL, `op` VARCHAR(16) NOT NULL, " +
		"`data` LONGTEXT NOT NULL, `changed_at` VARCHAR(32) NOT NULL, PRIMARY KEY (`entity_id`, `version`))" +
		d.tableOptions()
}

func (mysqlDialect) typeOf(k kind) string {
	switch k {
	case kindInt:
		return "BIGINT NULL"
	case kindFloat:
		return "DOUBLE NULL"
	case kindBool:
		return "TINYINT(1) NULL"
	case kindJSON:
		return "LONGTEXT NULL COMMENT '" + jsonComment + "'"
	}
	return "LONGTEXT NULL"
}

func (d mysqlDialect) addColumn(table, column string, k kind) string {
	return "ALTER TABLE `" + table + "` ADD COLUMN `" + column + "` " + d.typeOf(k)
}

func (mysqlDialect) createIndex(table, index string, columns []string, kinds []kind, unique bool) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX `" + index + "` ON `" + table + "` (")
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + c + "`")
		// Text columns are LONGTEXT (entities hold large text); MySQL
		// indexes those by prefix only. System columns are VARCHAR.
		if (kinds[i] == kindText || kinds[i] == kindJSON) && !isSystemColumn(c) {
			b.WriteString("(" + strconv.Itoa(mysqlIndexPrefix) + ")")
		}
	}
	b.WriteString(")")
	return b.String()
}

func (mysqlDialect) columnsQuery() string {
	return "SELECT COLUMN_NAME, CONCAT(COLUMN_TYPE, ' ', COLUMN_COMMENT) FROM information_schema.COLUMNS " +
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"
}

func (mysqlDialect) kindOf(t string) kind {
	t = strings.ToLower(t)
	switch {
	case strings.HasSuffix(t, jsonComment):
		return kindJSON
	case strings.HasPrefix(t, "tinyint(1)"), strings.HasPrefix(t, "boolean"):
		return kindBool
	case strings.HasPrefix(t, "bigint"), strings.HasPrefix(t, "int"), strings.HasPrefix(t, "smallint"),
		strings.HasPrefix(t, "tinyint"), strings.HasPrefix(t, "mediumint"):
		return kindInt
	case strings.HasPrefix(t, "double"), strings.HasPrefix(t, "float"), strings.HasPrefix(t, "decimal"):
		return kindFloat
	case strings.HasPrefix(t, "json"):
		return kindJSON
	}
	return kindText
}

// INSERT IGNORE and ON DUPLICATE KEY UPDATE would also swallow a clash on
// another unique index (or, for IGNORE, bad values): the INSERT fails and
// classify tells a clash on the primary key apart.
func (mysqlDialect) onConflictIDNothing() string { return "" }

func (mysqlDialect) forUpdate() string { return " FOR UPDATE" }

// DDL commits the open transaction on MySQL, so it runs on its own
// connection.
func (mysqlDialect) ddlInTx() bool { return false }

func (mysqlDialect) classify(err error) errClass {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return errOther
	}
	switch me.Number {
	case 1062, 1586: // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME
		// "for key 'PRIMARY'" (MariaDB), "for key 'table.PRIMARY'" (MySQL 8)
		if strings.HasSuffix(me.Message, "PRIMARY'") {
			return errDupID
		}
		return errUnique
	case 1060: // ER_DUP_FIELDNAME
		return errDupColumn
	case 1050, 1061: // ER_TABLE_EXISTS_ERROR, ER_DUP_KEYNAME
		return errDupObject
	case 1213, 1205: // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
		return errBusy
	case 1146: // ER_NO_SUCH_TABLE
		return errNoTable
	case 1054: // ER_BAD_FIELD_ERROR
		return errNoColumn
	}
	return errOther
}

// uniqueViolated reads the key of "Duplicate entry '…' for key 'name'"
// (MySQL 8: 'table.name'); the key of the primary key is PRIMARY.
func (mysqlDialect) uniqueViolated(err error) (string, []string) {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return "", nil
	}
	i := strings.LastIndex(me.Message, " for key '")
	if i < 0 || !strings.HasSuffix(me.Message, "'") {
		return "", nil
	}
	key := me.Message[i+len(" for key '") : len(me.Message)-1]
	if j := strings.LastIndexByte(key, '.'); j >= 0 {
		key = key[j+1:]
	}
	if key == "PRIMARY" {
		return "", []string{"id"}
	}
	return key, nil
}

func (mysqlDialect) likeEscape() string { return "" }

// LENGTH counts bytes on MySQL.
func (mysqlDialect) charLength() string { return "CHAR_LENGTH" }

// nameLock waits up to 30 s: GET_LOCK answers 1 when it has the lock.
func (mysqlDialect) nameLock() (lock, unlock, lockTx string) {
	return "SELECT GET_LOCK(?, 30)", "SELECT RELEASE_LOCK(?)", ""
}

func (mysqlDialect) lockTable(string) string { return "" }

func (mysqlDialect) tableCaseQuery() string {
	return "SELECT TABLE_NAME FROM information_schema.TABLES " +
		"WHERE TABLE_SCHEMA = DATABASE() AND LOWER(TABLE_NAME) = LOWER(?) AND BINARY TABLE_NAME <> BINARY ?"
}
