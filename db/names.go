package db

import "fmt"

const maxNameLen = 63

// validName reports whether s matches ^[A-Za-z_][A-Za-z0-9_]{0,62}$.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func checkTable(table string) error {
	if !validName(table) {
		return fmt.Errorf("db: table name %q must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$: %w", table, ErrInvalidName)
	}
	return nil
}

func checkField(table, field string) error {
	if !validName(field) {
		return fmt.Errorf("db: %s: field name %q must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$: %w", table, field, ErrInvalidName)
	}
	return nil
}

func historyTable(table string) string { return table + "_history" }

// maxHistoryTableLen is the longest table name whose history table name
// still fits every database (Postgres would cut a longer one short).
const maxHistoryTableLen = maxNameLen - len("_history")

// checkHistoryName refuses a table with history whose "{table}_history"
// name would not fit in an identifier.
func (c *core) checkHistoryName(table string) error {
	if len(table) > maxHistoryTableLen && c.historyOn(table) {
		return fmt.Errorf("db: table name %q is too long: its history table %q would exceed %d characters (use at most %d characters, or DisableHistory for it): %w",
			table, historyTable(table), maxNameLen, maxHistoryTableLen, ErrInvalidName)
	}
	return nil
}
