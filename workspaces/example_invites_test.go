package workspaces_test

import (
	"context"
	"errors"
	"fmt"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/workspaces"
)

// Owners and admins see the open invites (without tokens) and revoke them;
// the invites of a removed member die with the membership.
func ExampleService_RevokeInvite() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	ws := workspaces.New(workspaces.Config{Store: store})
	_ = ws.Init(ctx)

	team, _ := ws.Create(ctx, "alice", "Acme")
	inv, _ := ws.Invite(ctx, "alice", team.ID, "bob@example.com", workspaces.RoleAdmin)
	open, _ := ws.ListInvites(ctx, "alice", team.ID)
	fmt.Printf("open: %s as %s, token shown: %v\n", open[0].Email, open[0].Role, open[0].Token != "")

	_ = ws.RevokeInvite(ctx, "alice", team.ID, inv.ID)
	_, err := ws.Join(ctx, auth.User{ID: "bob", Email: "bob@example.com"}, inv.Token)
	fmt.Println("join after revoke:", errors.Is(err, auth.ErrInvalidInvite))

	// Carol, an admin, invites an address of her own, then is removed.
	_, _ = ws.AddMember(ctx, team.ID, "carol", workspaces.RoleAdmin)
	back, _ := ws.Invite(ctx, "carol", team.ID, "carol.other@example.com", workspaces.RoleAdmin)
	_ = ws.RemoveMember(ctx, "alice", team.ID, "carol")
	_, err = ws.Join(ctx, auth.User{ID: "carol2", Email: "carol.other@example.com"}, back.Token)
	fmt.Println("carol's way back:", errors.Is(err, auth.ErrInvalidInvite))
	open, _ = ws.ListInvites(ctx, "alice", team.ID)
	fmt.Println("open invites:", len(open))
	// Output:
	// open: bob@example.com as admin, token shown: false
	// join after revoke: true
	// carol's way back: true
	// open invites: 0
}

// directory is a Users for the example; the kernel passes *auth.Service.
type directory map[string]string

func (d directory) GetUser(_ context.Context, id string) (auth.User, error) {
	email, ok := d[id]
	if !ok {
		return auth.User{}, auth.ErrUserNotFound
	}
	return auth.User{ID: id, Email: email}, nil
}

// With Users set (here after New, as the kernel does once auth is built),
// member lists carry each member's email.
func ExampleService_SetUsers() {
	ctx := context.Background()
	store, _ := db.Open(ctx, "sqlite://:memory:")
	defer store.Close()
	ws := workspaces.New(workspaces.Config{Store: store})
	_ = ws.Init(ctx)
	ws.SetUsers(directory{"alice": "alice@example.com"})

	team, _ := ws.Create(ctx, "alice", "Acme")
	members, _ := ws.Members(ctx, "alice", team.ID)
	for _, m := range members {
		fmt.Println(m.UserID, m.Email, m.Role)
	}
	// Output:
	// alice alice@example.com owner
}
