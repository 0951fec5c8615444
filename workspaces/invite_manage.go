package workspaces

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"appkernel/db"
)

// ErrInviteNotFound: the invite does not exist in the workspace, or was
// already used. Only owners and admins of the workspace can get it. 404
// "not_found".
var ErrInviteNotFound = &Error{status: http.StatusNotFound, code: "not_found", message: "invite not found"}

// ListInvites returns the open invites of workspaceID (not used, not
// revoked, not expired), oldest first, as seen by actorID, who must be an
// owner or admin (ErrForbidden for a member, ErrNotFound for anyone else).
// Tokens are never returned: the store only knows their hashes.
func (s *Service) ListInvites(ctx context.Context, actorID, workspaceID string) ([]Invitation, error) {
	if _, err := s.manager(ctx, workspaceID, actorID); err != nil {
		return nil, err
	}
	es, err := s.store.FindEntities(ctx, tableInvites, db.Query{
		Where:   "[workspace_id] = ? AND [used_at] IS NULL AND [revoked_at] IS NULL AND [expires_at] > ?",
		Params:  []any{workspaceID, db.FormatTime(time.Now())},
		OrderBy: "[created_at] ASC, [id] ASC",
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: list invites: %w", err)
	}
	out := make([]Invitation, len(es))
	for i, e := range es {
		out[i] = invitationFrom(e)
	}
	return out, nil
}

// RevokeInvite revokes the invite inviteID of workspaceID on behalf of
// actorID, so it can no longer be redeemed. actorID must be an owner or an
// admin, and an admin may not revoke an owner invite (ErrForbidden; these
// are the rules of Invite); ErrNotFound when actorID is not a member.
// ErrInviteNotFound when the invite is not one of workspaceID's or was
// already used. Revoking a revoked or expired invite succeeds and changes
// nothing.
//
// A revocation racing a redemption of the same invite: exactly one of them
// wins (both claim the invite's row in invite_redemptions, under its unique
// index). When the redemption wins, RevokeInvite returns ErrInviteNotFound.
func (s *Service) RevokeInvite(ctx context.Context, actorID, workspaceID, inviteID string) error {
	actorRole, err := s.manager(ctx, workspaceID, actorID)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx *db.Store) error {
		inv, err := workspaceInvite(ctx, tx, workspaceID, inviteID)
		switch {
		case err != nil:
			return err
		case str(inv, "used_at") != "":
			return ErrInviteNotFound
		case str(inv, "revoked_at") != "":
			return nil
		case !AtLeast(actorRole, str(inv, "role")):
			return ErrForbidden
		}
		_, err = tx.SaveEntity(ctx, tableRedemptions, map[string]any{
			"invite_id":  inviteID,
			"revoked_by": actorID,
		})
		if errors.Is(err, db.ErrConflict) {
			return errRedeemed
		}
		if err != nil {
			return fmt.Errorf("workspaces: revoke invite: %w", err)
		}
		if _, err := tx.SaveEntity(ctx, tableInvites, map[string]any{
			"id":         inviteID,
			"revoked_at": time.Now().UTC(),
			"revoked_by": actorID,
		}); err != nil {
			return fmt.Errorf("workspaces: revoke invite: %w", err)
		}
		return nil
	})
	if errors.Is(err, errRedeemed) {
		// Another transaction claimed the invite first: a redemption, or a
		// revocation (which makes this one a no-op).
		inv, rerr := workspaceInvite(ctx, s.store, workspaceID, inviteID)
		if rerr != nil {
			return rerr
		}
		if str(inv, "revoked_at") != "" {
			return nil
		}
		return ErrInviteNotFound
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "workspace invite revoked", "workspace_id", workspaceID, "invite_id", inviteID, "by", actorID)
	return nil
}

// errRedeemed: the invite's redemption row exists already.
var errRedeemed = errors.New("workspaces: invite already claimed")

// manager returns the role of actorID in workspaceID when it is owner or
// admin; ErrForbidden for a member, ErrNotFound for a non-member.
func (s *Service) manager(ctx context.Context, workspaceID, actorID string) (string, error) {
	role, err := s.Role(ctx, workspaceID, actorID)
	if err != nil {
		return "", err
	}
	if !AtLeast(role, RoleAdmin) {
		return "", ErrForbidden
	}
	return role, nil
}

// workspaceInvite reads invite inviteID when it belongs to workspaceID;
// ErrInviteNotFound otherwise, so another workspace's invite ids read as
// unknown.
func workspaceInvite(ctx context.Context, st *db.Store, workspaceID, inviteID string) (db.Entity, error) {
	if inviteID == "" {
		return nil, ErrInviteNotFound
	}
	es, err := st.FindEntities(ctx, tableInvites, db.Query{
		Where:  "[id] = ? AND [workspace_id] = ?",
		Params: []any{inviteID, workspaceID},
		Limit:  1,
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: read invite: %w", err)
	}
	if len(es) == 0 {
		return nil, ErrInviteNotFound
	}
	return es[0], nil
}
