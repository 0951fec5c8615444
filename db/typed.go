package db

import (
	"context"
	"encoding/json"
	"fmt"
)

// Get returns the entity of table with the given id decoded into a T
// through its json tags. Errors are those of GetEntity.
func Get[T any](ctx context.Context, s *Store, table, id string) (T, error) {
	var out T
	e, err := s.GetEntity(ctx, table, id)
	if err != nil {
		return out, err
	}
	err = decodeInto(table, e, &out)
	return out, err
}

// Find returns the entities of table matching q decoded into Ts.
func Find[T any](ctx context.Context, s *Store, table string, q Query) ([]T, error) {
	es, err := s.FindEntities(ctx, table, q)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(es))
	err = decodeInto(table, es, &out)
	return out, err
}

// Save saves v (a struct with json tags; fields with omitempty and an empty
// value are left as they are) and returns the stored entity as a T, with
// its id and timestamps filled in.
func Save[T any](ctx context.Context, s *Store, table string, v T) (T, error) {
	var out T
	e, err := s.SaveEntity(ctx, table, v)
	if err != nil {
		return out, err
	}
	err = decodeInto(table, e, &out)
	return out, err
}

func decodeInto(table string, v, dst any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("db: encoding %s entity: %w", table, err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("db: decoding %s entity into %T: %v: %w", table, dst, err, ErrTypeMismatch)
	}
	return nil
}
