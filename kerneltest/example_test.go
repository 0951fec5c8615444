package kerneltest_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/kerneltest"
	"appkernel/middleware"
)

// This file is the README's "Testing your service" example, run: TestWidgets
// below is the README's block, verbatim (internal/readmesnippets checks),
// and Routes stands for the app's routes it tests.

// Routes are an app's routes: its signed-in users save and list widgets.
func Routes(k *appkernel.Kernel) http.Handler {
	r := chi.NewRouter()
	r.Use(auth.RequireUser)
	r.Post("/", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if err := middleware.DecodeJSON(r, &in); err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		user, _ := auth.UserFrom(r.Context())
		saved, err := k.DB().SaveEntity(r.Context(), "widgets", map[string]any{"name": in.Name, "owner_id": user.ID})
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusCreated, saved)
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		user, _ := auth.UserFrom(r.Context())
		list, err := k.DB().FindEntities(r.Context(), "widgets", db.Query{Where: "[owner_id] = ?", Params: []any{user.ID}})
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"widgets": list})
	})
	return r
}

func TestWidgets(t *testing.T) {
	tk := kerneltest.New(t, &kerneltest.Options{
		Mount: func(k *appkernel.Kernel) { k.Mount("/widgets", Routes(k)) },
	})
	alice := tk.User(t, "alice@example.com") // tk.Admin for an admin
	alice.Post(t, "/widgets", map[string]any{"name": "gear"}).Expect(t, 201)

	var got struct{ Widgets []struct{ Name string } }
	alice.Get(t, "/widgets").Expect(t, 200).JSON(t, &got)
	if len(got.Widgets) != 1 || got.Widgets[0].Name != "gear" {
		t.Fatalf("alice's widgets: %+v", got.Widgets)
	}
	tk.User(t, "bob@example.com").Get(t, "/widgets").Expect(t, 200).JSON(t, &got)
	if len(got.Widgets) != 0 {
		t.Fatalf("bob sees alice's widgets: %+v", got.Widgets)
	}
	tk.Client().Get(t, "/widgets").Expect(t, 401) // anonymous
}
