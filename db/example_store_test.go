package db_test

import (
	"context"
	"errors"
	"fmt"

	"appkernel/db"
)

func Example() {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		panic(err)
	}
	defer store.Close()

	// The table and its columns are created by the first save.
	w, err := store.SaveEntity(ctx, "widgets", db.Entity{"name": "gear", "size": 3, "tags": []any{"metal"}})
	if err != nil {
		panic(err)
	}
	id := w["id"].(string)

	// Update: only the given fields change.
	if _, err := store.SaveEntity(ctx, "widgets", db.Entity{"id": id, "size": 4}); err != nil {
		panic(err)
	}
	got, err := store.GetEntity(ctx, "widgets", id)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v %T(%v) %v\n", got["name"], got["size"], got["size"], got["tags"])

	_, err = store.GetEntity(ctx, "widgets", "no-such-id")
	fmt.Println(errors.Is(err, db.ErrNotFound))
	// Output:
	// gear int64(4) [metal]
	// true
}

func ExampleStore_FindEntities() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	for i, name := range []string{"ant", "bee", "cat", "dog"} {
		store.SaveEntity(ctx, "pets", db.Entity{"name": name, "legs": 6 - 2*(i/2)})
	}

	pets, err := store.FindEntities(ctx, "pets", db.Query{
		Where:   "[legs] = ? OR LOWER([name]) LIKE 'd%'",
		Params:  []any{6},
		OrderBy: "[name] DESC",
		Limit:   10,
	})
	if err != nil {
		panic(err)
	}
	for _, p := range pets {
		fmt.Println(p["name"], p["legs"])
	}
	n, _ := store.CountEntities(ctx, "pets", "[legs] < ?", 6)
	fmt.Println("fewer than 6 legs:", n)

	// Anything outside the grammar is refused before reaching the database.
	_, err = store.FindEntities(ctx, "pets", db.Query{Where: "[name] = 'x'; DROP TABLE pets"})
	fmt.Println(err)
	// Output:
	// dog 4
	// bee 6
	// ant 6
	// fewer than 6 legs: 2
	// db: statement separators are not allowed: ";" at position 12: invalid query
}

func ExampleStore_Tx() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	store.EnsureIndex(ctx, "users", []string{"email"}, true)
	store.SaveEntity(ctx, "users", db.Entity{"email": "ada@example.com"})

	// Every call on tx runs in the transaction; an error rolls it all back.
	err := store.Tx(ctx, func(tx *db.Store) error {
		u, err := tx.SaveEntity(ctx, "users", db.Entity{"email": "bob@example.com"})
		if err != nil {
			return err
		}
		if _, err := tx.SaveEntity(ctx, "workspaces", db.Entity{"owner_id": u["id"]}); err != nil {
			return err
		}
		// The unique index refuses a second ada: the whole transaction rolls back.
		_, err = tx.SaveEntity(ctx, "users", db.Entity{"email": "ada@example.com"})
		return err
	})
	fmt.Println(errors.Is(err, db.ErrConflict))
	users, _ := store.CountEntities(ctx, "users", "")
	workspaces, _ := store.CountEntities(ctx, "workspaces", "")
	fmt.Println(users, workspaces)
	// Output:
	// true
	// 1 0
}

func ExampleStore_OnChange() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	store.OnChange(func(ctx context.Context, c db.Change) {
		fmt.Println(c.Op, c.Table, c.Old["status"], "->", c.New["status"])
	})
	o, _ := store.SaveEntity(ctx, "orders", db.Entity{"status": "new"})
	store.SaveEntity(ctx, "orders", db.Entity{"id": o["id"], "status": "paid"})
	store.DeleteEntity(ctx, "orders", o["id"].(string), true)
	// Output:
	// create orders <nil> -> new
	// update orders new -> paid
	// delete orders paid -> <nil>
}

func ExampleStore_DeleteEntity() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	n, _ := store.SaveEntity(ctx, "notes", db.Entity{"text": "hello"})
	id := n["id"].(string)

	ok, _ := store.DeleteEntity(ctx, "notes", id, false) // soft: sets deleted_at
	_, err := store.GetEntity(ctx, "notes", id)
	fmt.Println(ok, errors.Is(err, db.ErrNotFound))
	d, _ := store.GetEntity(ctx, "notes", id, db.IncludeDeleted())
	fmt.Println(d["deleted_at"] != nil)

	store.SaveEntity(ctx, "notes", db.Entity{"id": id}) // saving restores it
	for _, h := range must(store.History(ctx, "notes", id)) {
		fmt.Println(h.Version, h.Op, h.Entity["text"])
	}
	// Output:
	// true true
	// true
	// 1 create hello
	// 2 delete hello
	// 3 restore hello
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Task is a model as code: fields map to columns through json tags.
type Task struct {
	ID        string   `json:"id,omitempty"`
	Title     string   `json:"title"`
	Priority  int      `json:"priority,omitempty"`
	Done      bool     `json:"done"`
	Labels    []string `json:"labels,omitempty"`
	CreatedAt string   `json:"created_at,omitempty"`
}

func ExampleSave() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()

	t, err := db.Save(ctx, store, "tasks", Task{Title: "write docs", Priority: 2, Labels: []string{"docs"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(t.ID != "", t.CreatedAt != "", t.Title)

	t.Done = true
	db.Save(ctx, store, "tasks", t)
	db.Save(ctx, store, "tasks", Task{Title: "ship", Priority: 1})

	got, _ := db.Get[Task](ctx, store, "tasks", t.ID)
	fmt.Println(got.Title, got.Done, got.Labels)

	open, _ := db.Find[Task](ctx, store, "tasks", db.Query{Where: "[done] = ?", Params: []any{false}})
	fmt.Println(len(open), open[0].Title)
	// Output:
	// true true write docs
	// write docs true [docs]
	// 1 ship
}

func ExampleStore_EnsureIndex() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	// Idempotent: call it at start-up.
	if err := store.EnsureIndex(ctx, "accounts", []string{"email"}, true); err != nil {
		panic(err)
	}
	store.SaveEntity(ctx, "accounts", db.Entity{"email": "a@example.com"})
	_, err := store.SaveEntity(ctx, "accounts", db.Entity{"email": "a@example.com"})
	fmt.Println(errors.Is(err, db.ErrConflict))
	// NULLs never conflict.
	_, err1 := store.SaveEntity(ctx, "accounts", db.Entity{"email": nil})
	_, err2 := store.SaveEntity(ctx, "accounts", db.Entity{"email": nil})
	fmt.Println(err1, err2)
	// Output:
	// true
	// <nil> <nil>
}

func ExampleTypeMismatchError() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	store.SaveEntity(ctx, "items", db.Entity{"qty": 1})
	_, err := store.SaveEntity(ctx, "items", db.Entity{"qty": "abc"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, db.ErrTypeMismatch))
	// Output:
	// db: cannot store a text value in integer column items.qty: type mismatch
	// true
}
