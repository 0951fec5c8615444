package workspaces

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"appkernel/auth"
	"appkernel/db"
)

// MaxNameLength is the longest workspace name, in characters, after trimming.
const MaxNameLength = 100

// PersonalName is the name given to every personal workspace.
const PersonalName = "Personal"

// Workspace is a tenant: the unit that owns data and has members.
type Workspace struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	OwnerID  string `json:"owner_id"` // the user who created it
	Personal bool   `json:"personal"` // created with the user at registration
	// Role is the role of the user the workspace was read for (Create,
	// ListForUser, Get); empty when read without a user.
	Role      string `json:"role,omitempty"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// normalizeName trims name and checks it is 1 to MaxNameLength printable
// characters.
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		return "", invalid("name must be valid UTF-8")
	case n == 0:
		return "", invalid("name is required")
	case n > MaxNameLength:
		return "", invalid(fmt.Sprintf("name must be at most %d characters", MaxNameLength))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", invalid("name must not contain control characters")
	}
	return name, nil
}

// Create makes a workspace named name with userID as its owner. The name is
// trimmed and must be 1 to 100 characters (ErrValidation).
func (s *Service) Create(ctx context.Context, userID, name string) (Workspace, error) {
	if s.err != nil {
		return Workspace{}, s.err
	}
	name, err := normalizeName(name)
	if err != nil {
		return Workspace{}, err
	}
	if userID == "" {
		return Workspace{}, invalid("user id is required")
	}
	var ws Workspace
	err = s.store.Tx(ctx, func(tx *db.Store) error {
		var err error
		ws, err = createWorkspace(ctx, tx, userID, name, false)
		return err
	})
	if err == nil {
		s.membershipChanged(userID)
	}
	return ws, err
}

// CreatePersonal creates the personal workspace of the new user u, with u as
// owner, inside the caller's transaction tx, and returns its id. auth calls
// it while registering u (auth.WorkspaceHooks).
func (s *Service) CreatePersonal(ctx context.Context, tx *db.Store, u auth.User) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	if u.ID == "" {
		return "", invalid("user id is required")
	}
	ws, err := createWorkspace(ctx, tx, u.ID, PersonalName, true)
	return ws.ID, err
}

func createWorkspace(ctx context.Context, st *db.Store, userID, name string, personal bool) (Workspace, error) {
	e, err := st.SaveEntity(ctx, tableWorkspaces, map[string]any{
		"name":     name,
		"owner_id": userID,
		"personal": personal,
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("workspaces: create: %w", err)
	}
	ws := workspaceFrom(e)
	if _, err := insertMember(ctx, st, ws.ID, userID, RoleOwner); err != nil {
		return Workspace{}, err
	}
	ws.Role = RoleOwner
	return ws, nil
}

// Get returns workspace id as seen by its member userID (with their role).
// ErrNotFound when it does not exist or userID is not a member.
func (s *Service) Get(ctx context.Context, userID, id string) (Workspace, error) {
	if s.err != nil {
		return Workspace{}, s.err
	}
	role, err := s.Role(ctx, id, userID)
	if err != nil {
		return Workspace{}, err
	}
	e, err := s.store.GetEntity(ctx, tableWorkspaces, id)
	if errors.Is(err, db.ErrNotFound) {
		return Workspace{}, ErrNotFound
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("workspaces: get: %w", err)
	}
	ws := workspaceFrom(e)
	ws.Role = role
	return ws, nil
}

// ListForUser returns the workspaces userID is a member of, oldest first,
// each with userID's role in it.
func (s *Service) ListForUser(ctx context.Context, userID string) ([]Workspace, error) {
	if s.err != nil {
		return nil, s.err
	}
	ms, err := s.store.FindEntities(ctx, tableMembers, db.Query{
		Where:  "[user_id] = ?",
		Params: []any{userID},
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: list memberships: %w", err)
	}
	roles := make(map[string]string, len(ms))
	ids := make([]any, 0, len(ms))
	for _, m := range ms {
		id := str(m, "workspace_id")
		roles[id] = str(m, "role")
		ids = append(ids, id)
	}
	out := make([]Workspace, 0, len(ids))
	const chunk = 200 // keeps the IN list well under every driver's parameter limit
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		part := ids[:n]
		ids = ids[n:]
		es, err := s.store.FindEntities(ctx, tableWorkspaces, db.Query{
			Where:  "[id] IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ") + ")",
			Params: part,
		})
		if err != nil {
			return nil, fmt.Errorf("workspaces: list: %w", err)
		}
		for _, e := range es {
			ws := workspaceFrom(e)
			ws.Role = roles[ws.ID]
			out = append(out, ws)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func workspaceFrom(e db.Entity) Workspace {
	return Workspace{
		ID:        str(e, "id"),
		Name:      str(e, "name"),
		OwnerID:   str(e, "owner_id"),
		Personal:  boolean(e, "personal"),
		CreatedAt: str(e, "created_at"),
		UpdatedAt: str(e, "updated_at"),
	}
}

// str reads a text field of an entity; absent or NULL reads as "".
func str(e db.Entity, key string) string {
	switch v := e[key].(type) {
	case string:
		return v
	case time.Time:
		return v.UTC().Format(timeLayout)
	}
	return ""
}

// timeLayout is the store's text form of a time.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func boolean(e db.Entity, key string) bool {
	switch v := e[key].(type) {
	case bool:
		return v
	case int64:
		return v != 0
	}
	return false
}
