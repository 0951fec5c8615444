package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// EnsureIndex creates an index on columns of table, unique or not, creating
// the table and the columns (as text) if needed. It is idempotent: call it
// at start-up. NULLs never conflict in a unique index; soft-deleted
// entities still hold their values in it. On MySQL, text columns are
// indexed by their first 255 characters.
func (s *Store) EnsureIndex(ctx context.Context, table string, columns []string, unique bool) error {
	if err := checkTable(table); err != nil {
		return err
	}
	if len(columns) == 0 {
		return fmt.Errorf("db: EnsureIndex on %s: no columns given: %w", table, ErrInvalidName)
	}
	fields := make([]field, 0, len(columns))
	for _, c := range columns {
		if err := checkField(table, c); err != nil {
			return err
		}
		fields = append(fields, field{name: c, kind: kindText, val: ""})
	}
	t, err := s.ensureColumnsOfKind(ctx, table, fields)
	if err != nil {
		return err
	}
	kinds := make([]kind, len(columns))
	for i, c := range columns {
		kinds[i] = t.cols[c]
	}
	name := indexName(table, columns, unique)
	if unique {
		// A conflict on it can then name its fields to a client.
		s.c.mu.Lock()
		s.c.indexes[name] = slices.Clone(columns)
		s.c.mu.Unlock()
	}
	class, err := s.ddl(ctx, table, s.c.d.createIndex(table, name, columns, kinds, unique))
	switch {
	case err == nil, class == errDupObject:
		return nil
	case class == errUnique:
		return fmt.Errorf("db: unique index %s on %s: existing entities share values: %w", name, table,
			&ConflictError{Fields: slices.Clone(columns), Index: name, Err: err})
	}
	return fmt.Errorf("db: creating index %s on %s: %w", name, table, err)
}

// EnsureColumns creates table and a column for each non-nil field of
// example, typed from its value, unless they exist. Call it at start-up
// for columns that must exist before the first save (to index them, or to
// create them outside a MySQL transaction). An existing column of another
// type is an error matching ErrTypeMismatch.
func (s *Store) EnsureColumns(ctx context.Context, table string, example Entity) error {
	if err := checkTable(table); err != nil {
		return err
	}
	fields, _, err := s.c.fields(table, example)
	if err != nil {
		return err
	}
	_, err = s.prepareColumns(ctx, table, fields)
	return err
}

// ensureColumnsOfKind creates missing columns with the fields' kinds and
// accepts existing columns of any kind.
func (s *Store) ensureColumnsOfKind(ctx context.Context, table string, fields []field) (*tableInfo, error) {
	if err := s.checkTx(); err != nil {
		return nil, err
	}
	t, err := s.ensureTable(ctx, table)
	if err != nil {
		return nil, err
	}
	missing := map[string]kind{}
	for _, f := range fields {
		if _, ok := t.cols[f.name]; !ok {
			missing[f.name] = f.kind
		}
	}
	if len(missing) == 0 {
		return t, nil
	}
	t, err = s.addColumns(ctx, t, missing)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if _, ok := t.cols[f.name]; !ok {
			return nil, errors.New("db: column " + table + "." + f.name + " missing after it was added")
		}
	}
	return t, nil
}
