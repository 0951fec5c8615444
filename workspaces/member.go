package workspaces

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"appkernel/db"
)

// ErrMemberNotFound: the user to act on is not a member of the workspace.
// Only members of the workspace can get it. 404 "not_found".
var ErrMemberNotFound = &Error{status: http.StatusNotFound, code: "not_found", message: "member not found"}

// Member is one user's membership of one workspace.
type Member struct {
	WorkspaceID string `json:"workspace_id"`
	UserID      string `json:"user_id"`
	Role        string `json:"role"`
	CreatedAt   string `json:"created_at"` // when the user joined
	// Email is the member's email, in member lists (Members) of a Service
	// with Users; empty otherwise, and then absent from JSON.
	Email string `json:"email,omitempty"`
}

func memberFrom(e db.Entity) Member {
	return Member{
		WorkspaceID: str(e, "workspace_id"),
		UserID:      str(e, "user_id"),
		Role:        str(e, "role"),
		CreatedAt:   str(e, "created_at"),
	}
}

// findMember returns the membership row of userID in workspaceID, or
// ErrNotFound.
func findMember(ctx context.Context, st *db.Store, workspaceID, userID string) (db.Entity, error) {
	if workspaceID == "" || userID == "" {
		return nil, ErrNotFound
	}
	es, err := st.FindEntities(ctx, tableMembers, db.Query{
		Where:  "[workspace_id] = ? AND [user_id] = ?",
		Params: []any{workspaceID, userID},
		Limit:  1,
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: read membership: %w", err)
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return es[0], nil
}

func insertMember(ctx context.Context, st *db.Store, workspaceID, userID, role string) (Member, error) {
	e, err := st.SaveEntity(ctx, tableMembers, map[string]any{
		"workspace_id": workspaceID,
		"user_id":      userID,
		"role":         role,
	})
	if errors.Is(err, db.ErrConflict) {
		return Member{}, ErrAlreadyMember
	}
	if err != nil {
		return Member{}, fmt.Errorf("workspaces: add member: %w", err)
	}
	return memberFrom(e), nil
}

// Role returns the role of userID in workspaceID, or ErrNotFound when the
// workspace does not exist or userID is not a member.
func (s *Service) Role(ctx context.Context, workspaceID, userID string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	e, err := findMember(ctx, s.store, workspaceID, userID)
	if err != nil {
		return "", err
	}
	return str(e, "role"), nil
}

// IsMember reports whether userID is a member of workspaceID
// (auth.WorkspaceHooks: auth uses it to honour X-Workspace-ID).
func (s *Service) IsMember(ctx context.Context, workspaceID, userID string) (bool, error) {
	_, err := s.Role(ctx, workspaceID, userID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MemberWorkspaces returns the ids of up to limit workspaces userID is a
// member of, in no particular order (auth.WorkspaceHooks: auth caches
// them per user to honour X-Workspace-ID without a statement per request).
func (s *Service) MemberWorkspaces(ctx context.Context, userID string, limit int) ([]string, error) {
	if s.err != nil {
		return nil, s.err
	}
	es, err := s.store.FindEntities(ctx, tableMembers, db.Query{
		Where:  "[user_id] = ?",
		Params: []any{userID},
		Limit:  limit,
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: list memberships: %w", err)
	}
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = str(e, "workspace_id")
	}
	return ids, nil
}

// Members lists the members of workspaceID, oldest first, as seen by the
// member actorID, each with their email when the Service has Users (see
// Config.Users). ErrNotFound when actorID is not a member.
func (s *Service) Members(ctx context.Context, actorID, workspaceID string) ([]Member, error) {
	if _, err := s.Role(ctx, workspaceID, actorID); err != nil {
		return nil, err
	}
	es, err := s.store.FindEntities(ctx, tableMembers, db.Query{
		Where:   "[workspace_id] = ?",
		Params:  []any{workspaceID},
		OrderBy: "[created_at] ASC, [id] ASC",
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: list members: %w", err)
	}
	out := make([]Member, len(es))
	for i, e := range es {
		out[i] = memberFrom(e)
	}
	if err := s.fillEmails(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// AddMember makes userID a member of workspaceID with role, without any
// check of who asks: it is for seed scripts and app code that has already
// decided. ErrNotFound when the workspace does not exist, ErrAlreadyMember
// when userID is a member already, ErrValidation for an unknown role.
func (s *Service) AddMember(ctx context.Context, workspaceID, userID, role string) (Member, error) {
	if s.err != nil {
		return Member{}, s.err
	}
	if !ValidRole(role) {
		return Member{}, invalid("role must be one of owner, admin, member")
	}
	if userID == "" {
		return Member{}, invalid("user id is required")
	}
	if _, err := s.store.GetEntity(ctx, tableWorkspaces, workspaceID); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return Member{}, ErrNotFound
		}
		return Member{}, fmt.Errorf("workspaces: add member: %w", err)
	}
	m, err := insertMember(ctx, s.store, workspaceID, userID, role)
	if err == nil {
		s.membershipChanged(userID)
	}
	return m, err
}

// RemoveMember removes userID from workspaceID on behalf of actorID.
//
// Who may remove whom: any member may remove themself; an owner may remove
// anyone; an admin may remove admins and members but not owners; a member
// may remove no one else (ErrForbidden). ErrNotFound when actorID is not a
// member of the workspace, ErrMemberNotFound when userID is not.
//
// The open invites userID made to the workspace are revoked with the
// removal (and would be refused anyway: redemption checks the inviter's
// membership and role).
//
// The last owner cannot be removed (ErrLastOwner), also under concurrency:
// every removal of an owner counts the owners and then inserts the next
// sequence number of the workspace into owner_changes under a unique index,
// in one transaction. Two removals that counted the same owners race for the
// same sequence number; the unique index lets one commit and the other is
// rolled back and retried with fresh counts. This holds on every dialect
// (the unique check sees uncommitted and committed rows whatever the
// isolation level). After several lost races in a row it returns ErrBusy.
func (s *Service) RemoveMember(ctx context.Context, actorID, workspaceID, userID string) error {
	actorRole, err := s.Role(ctx, workspaceID, actorID)
	if err != nil {
		return err
	}
	target, err := findMember(ctx, s.store, workspaceID, userID)
	if errors.Is(err, ErrNotFound) {
		return ErrMemberNotFound
	}
	if err != nil {
		return err
	}
	targetRole := str(target, "role")
	if actorID != userID {
		switch {
		case !AtLeast(actorRole, RoleAdmin):
			return ErrForbidden
		case targetRole == RoleOwner && actorRole != RoleOwner:
			return ErrForbidden
		}
	}
	if targetRole != RoleOwner {
		// No role change exists, so a non-owner stays one: the owner count
		// cannot be affected and no guard is needed.
		err := s.store.Tx(ctx, func(tx *db.Store) error {
			if _, err := tx.DeleteEntity(ctx, tableMembers, str(target, "id"), true); err != nil {
				return fmt.Errorf("workspaces: remove member: %w", err)
			}
			return revokeInvitesBy(ctx, tx, workspaceID, userID, actorID)
		})
		if err != nil {
			return err
		}
		s.membershipChanged(userID)
		s.log.InfoContext(ctx, "workspace member removed", "workspace_id", workspaceID, "user_id", userID, "by", actorID)
		return nil
	}
	const attempts = 8
	for range attempts {
		err := s.store.Tx(ctx, func(tx *db.Store) error {
			return removeOwner(ctx, tx, workspaceID, userID, actorID)
		})
		if errors.Is(err, errGuardLost) {
			continue
		}
		if err == nil {
			s.membershipChanged(userID)
			s.log.InfoContext(ctx, "workspace owner removed", "workspace_id", workspaceID, "user_id", userID, "by", actorID)
		}
		return err
	}
	return ErrBusy
}

// errGuardLost: another owner removal of the same workspace committed first.
var errGuardLost = errors.New("workspaces: concurrent owner change")

func removeOwner(ctx context.Context, tx *db.Store, workspaceID, userID, actorID string) error {
	// Read the guard first: whatever this transaction reads after it is at
	// least as new as the sequence number it will claim.
	last, err := tx.FindEntities(ctx, tableOwnerGuard, db.Query{
		Where:   "[workspace_id] = ?",
		Params:  []any{workspaceID},
		OrderBy: "[seq] DESC",
		Limit:   1,
	})
	if err != nil {
		return fmt.Errorf("workspaces: read owner guard: %w", err)
	}
	var seq int64
	if len(last) > 0 {
		if seq, err = strconv.ParseInt(str(last[0], "seq"), 10, 64); err != nil {
			return fmt.Errorf("workspaces: owner guard of %s holds a bad seq: %w", workspaceID, err)
		}
	}
	target, err := findMember(ctx, tx, workspaceID, userID)
	if errors.Is(err, ErrNotFound) {
		return ErrMemberNotFound
	}
	if err != nil {
		return err
	}
	owners, err := tx.CountEntities(ctx, tableMembers, "[workspace_id] = ? AND [role] = ?", workspaceID, RoleOwner)
	if err != nil {
		return fmt.Errorf("workspaces: count owners: %w", err)
	}
	if owners <= 1 {
		return ErrLastOwner
	}
	if _, err := tx.DeleteEntity(ctx, tableMembers, str(target, "id"), true); err != nil {
		return fmt.Errorf("workspaces: remove owner: %w", err)
	}
	if err := revokeInvitesBy(ctx, tx, workspaceID, userID, actorID); err != nil {
		return err
	}
	_, err = tx.SaveEntity(ctx, tableOwnerGuard, map[string]any{
		"workspace_id": workspaceID,
		"seq":          fmt.Sprintf("%019d", seq+1), // fixed width: text order is numeric order
		"user_id":      userID,
		"removed_by":   actorID,
	})
	if errors.Is(err, db.ErrConflict) {
		return errGuardLost
	}
	if err != nil {
		return fmt.Errorf("workspaces: write owner guard: %w", err)
	}
	return nil
}

// revokeInvitesBy marks revoked the open invites userID made to
// workspaceID, on behalf of actorID. A join racing with it may still
// commit; it then read the inviter as a member and is ordered before the
// removal.
func revokeInvitesBy(ctx context.Context, tx *db.Store, workspaceID, userID, actorID string) error {
	es, err := tx.FindEntities(ctx, tableInvites, db.Query{
		Where:  "[workspace_id] = ? AND [invited_by] = ? AND [used_at] IS NULL AND [revoked_at] IS NULL",
		Params: []any{workspaceID, userID},
	})
	if err != nil {
		return fmt.Errorf("workspaces: read invites of removed member: %w", err)
	}
	now := time.Now().UTC()
	for _, e := range es {
		if _, err := tx.SaveEntity(ctx, tableInvites, map[string]any{
			"id":         str(e, "id"),
			"revoked_at": now,
			"revoked_by": actorID,
		}); err != nil {
			return fmt.Errorf("workspaces: revoke invite: %w", err)
		}
	}
	return nil
}
