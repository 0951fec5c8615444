package workspaces_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/workspaces"
)

// The Go API behind the routes: create a workspace, invite by email, join
// with the token, and the rules that hold without HTTP too.
func Example() {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://:memory:")
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ws := workspaces.New(workspaces.Config{Store: store})
	if err := ws.Init(ctx); err != nil {
		panic(err)
	}

	alice := auth.User{ID: "alice", Email: "alice@example.com"}
	bob := auth.User{ID: "bob", Email: "bob@example.com"}

	team, _ := ws.Create(ctx, alice.ID, "  Acme ")
	inv, _ := ws.Invite(ctx, alice.ID, team.ID, "Bob@Example.com", workspaces.RoleAdmin)
	m, _ := ws.Join(ctx, bob, inv.Token)
	fmt.Printf("%q: bob is %s\n", team.Name, m.Role)

	_, err = ws.Join(ctx, bob, inv.Token)
	fmt.Println("second join:", errors.Is(err, auth.ErrInvalidInvite))

	err = ws.RemoveMember(ctx, alice.ID, team.ID, alice.ID)
	fmt.Println("alice leaves:", err)

	carol := "carol"
	_, err = ws.Members(ctx, carol, team.ID)
	fmt.Println("carol lists members:", err)
	// Output:
	// "Acme": bob is admin
	// second join: true
	// alice leaves: the last owner of a workspace cannot be removed
	// carol lists members: workspace not found
}

// RequireMember guards an app's workspace-scoped routes; the handler reads
// the workspace and the caller's role from the context.
func ExampleService_RequireMember() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	ws := workspaces.New(workspaces.Config{Store: store})
	_ = ws.Init(ctx)
	team, _ := ws.Create(ctx, "alice", "Acme")

	r := chi.NewRouter()
	r.Route("/projects/{workspace_id}", func(r chi.Router) {
		r.Use(ws.RequireMember)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			role, _ := workspaces.RoleFrom(r.Context())
			fmt.Fprintf(w, "projects, as %s", role)
		})
	})

	for _, user := range []string{"alice", "mallory"} {
		req := httptest.NewRequest("GET", "/projects/"+team.ID+"/", nil)
		// auth.Authenticate does this in the kernel.
		req = req.WithContext(auth.WithUser(req.Context(), auth.User{ID: user}))
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(user, rec.Code, rec.Body.String())
	}
	// Output:
	// alice 200 projects, as owner
	// mallory 404 {"error":{"code":"not_found","message":"workspace not found"}}
}
