package flags

import (
	"context"
	"errors"
	"fmt"
	"time"

	"appkernel/auth"
	"appkernel/db"
)

// table is the flags' table in the entity store. Its history is kept: a
// flag change is worth an audit trail.
const table = "flags"

// row is a flag as stored.
type row struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Enabled        bool      `json:"enabled"`
	RolloutPercent int       `json:"rollout_percent"`
	Workspaces     []string  `json:"workspaces"`
	Users          []string  `json:"users"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func (r row) flag() Flag {
	f := Flag{Name: r.Name, Enabled: r.Enabled, RolloutPercent: r.RolloutPercent,
		Workspaces: r.Workspaces, Users: r.Users, UpdatedAt: r.UpdatedAt}
	if f.Workspaces == nil {
		f.Workspaces = []string{}
	}
	if f.Users == nil {
		f.Users = []string{}
	}
	return f
}

// Init creates the flags table with its columns and the unique index on
// the name, which keeps two concurrent first Sets of a name from making
// two flags. It is idempotent; New and Set call it.
func Init(ctx context.Context, store *db.Store) error {
	example := db.Entity{"name": "", "enabled": false, "rollout_percent": 0, "workspaces": []string{}, "users": []string{}}
	if err := store.EnsureColumns(ctx, table, example); err != nil {
		return fmt.Errorf("flags: columns of %s: %w", table, err)
	}
	if err := store.EnsureIndex(ctx, table, []string{"name"}, true); err != nil {
		return fmt.Errorf("flags: index on %s(name): %w", table, err)
	}
	return nil
}

// Set creates or replaces the flag name in store. It returns an error
// matching ErrInvalid for a bad name, rollout or target list.
//
// Set writes the database only: a Service (the kernel's is Kernel.Flags)
// sees the change at its next refresh; Service.Set also tells every
// Service on the same Redis at once.
func Set(ctx context.Context, store *db.Store, name string, f Flag) error {
	f, err := normalize(name, f)
	if err != nil {
		return err
	}
	if err := Init(ctx, store); err != nil {
		return err
	}
	return set(ctx, store, f)
}

// set writes the checked flag f, updating the row of its name or creating
// it. Two concurrent first Sets of one name meet at the unique index: the
// loser runs again and updates the winner's row.
func set(ctx context.Context, store *db.Store, f Flag) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = store.Tx(ctx, func(tx *db.Store) error {
			e := db.Entity{"name": f.Name, "enabled": f.Enabled, "rollout_percent": f.RolloutPercent,
				"workspaces": f.Workspaces, "users": f.Users}
			existing, err := find(ctx, tx, f.Name)
			switch {
			case err == nil:
				e["id"] = existing.ID
			case !errors.Is(err, ErrNotFound):
				return err
			}
			_, err = tx.SaveEntity(ctx, table, e)
			return err
		})
		if !errors.Is(err, db.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("flags: set %q: %w", f.Name, err)
	}
	return nil
}

// Get returns the flag name of store, or an error matching ErrNotFound.
func Get(ctx context.Context, store *db.Store, name string) (Flag, error) {
	if err := checkName(name); err != nil {
		return Flag{}, err
	}
	r, err := find(ctx, store, name)
	if err != nil {
		return Flag{}, err
	}
	return r.flag(), nil
}

func find(ctx context.Context, store *db.Store, name string) (row, error) {
	rows, err := db.Find[row](ctx, store, table, db.Query{Where: "[name] = ?", Params: []any{name}, Limit: 1})
	if err != nil {
		return row{}, fmt.Errorf("flags: get %q: %w", name, err)
	}
	if len(rows) == 0 {
		return row{}, fmt.Errorf("flags: %q: %w", name, ErrNotFound)
	}
	return rows[0], nil
}

// List returns every flag of store, sorted by name.
func List(ctx context.Context, store *db.Store) ([]Flag, error) {
	rows, err := db.Find[row](ctx, store, table, db.Query{OrderBy: "[name] ASC"})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return []Flag{}, nil
		}
		return nil, fmt.Errorf("flags: list: %w", err)
	}
	out := make([]Flag, len(rows))
	for i, r := range rows {
		out[i] = r.flag()
	}
	return out, nil
}

// Delete removes the flag name from store (its history stays), or returns
// an error matching ErrNotFound. A deleted flag is false for everyone.
func Delete(ctx context.Context, store *db.Store, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	r, err := find(ctx, store, name)
	if err != nil {
		return err
	}
	// Permanent: a soft-deleted row would keep holding its name in the
	// unique index.
	ok, err := store.DeleteEntity(ctx, table, r.ID, true)
	if err != nil {
		return fmt.Errorf("flags: delete %q: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("flags: %q: %w", name, ErrNotFound)
	}
	return nil
}

// Enabled reads the flag name from store and evaluates it for f: one
// query per call, for scripts and tools. A service evaluates with its
// Service (Kernel.Flags), in memory. An unknown flag is false; a name that
// could not be a flag's is an error matching ErrInvalid.
func Enabled(ctx context.Context, store *db.Store, name string, f For) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	r, err := find(ctx, store, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return compile(r.flag()).evaluate(name, f), nil
}

// ForContext returns who a request acts as, for Enabled: the user and
// workspace of its principal (an API key acts for its user in its
// workspace), else of its user; an anonymous request names no one.
func ForContext(ctx context.Context) For {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		return For{UserID: p.UserID, WorkspaceID: p.WorkspaceID}
	}
	if u, ok := auth.UserFrom(ctx); ok {
		return For{UserID: u.ID, WorkspaceID: u.WorkspaceID}
	}
	return For{}
}
