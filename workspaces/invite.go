package workspaces

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"appkernel/auth"
	"appkernel/db"
)

// InviteTokenPrefix starts every invite token, so a leaked one is
// recognizable (e.g. by secret scanners).
const InviteTokenPrefix = "inv_"

// Invitation is an invite to join a workspace, addressed to one email.
type Invitation struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	Email       string `json:"email"`
	Role        string `json:"role"`
	InvitedBy   string `json:"invited_by"`
	ExpiresAt   string `json:"expires_at"`
	CreatedAt   string `json:"created_at"`
	// Token is the secret to redeem the invite (Join, or auth's register
	// with invite_token). It is only known when the invite is created: the
	// store keeps its SHA-256, never the token.
	Token string `json:"token,omitempty"`
}

// NormalizeEmail returns the canonical form of email (auth.CanonicalEmail:
// trimmed, NFKC, case-folded, IDNA domain), as auth stores user emails, or
// ErrValidation saying what is wrong — also for a lookalike (mixed
// scripts, invisible or direction characters).
func NormalizeEmail(email string) (string, error) {
	c, err := auth.CanonicalEmail(email)
	if err != nil {
		return "", invalid(err.Error())
	}
	return c, nil
}

// Invite creates an invite to workspaceID for email with role (RoleMember
// when empty) on behalf of actorID, and returns it with its token, which is
// shown this once. Owners may invite any role, admins may invite admins and
// members (inviting an owner is ErrForbidden), members may not invite
// (ErrForbidden). ErrNotFound when actorID is not a member; ErrValidation for
// a bad email or role. The token expires after Config.InviteTTL and can be
// redeemed once, by a user with that email.
func (s *Service) Invite(ctx context.Context, actorID, workspaceID, email, role string) (Invitation, error) {
	actorRole, err := s.Role(ctx, workspaceID, actorID)
	if err != nil {
		return Invitation{}, err
	}
	if !AtLeast(actorRole, RoleAdmin) {
		return Invitation{}, ErrForbidden
	}
	if role == "" {
		role = RoleMember
	}
	if !ValidRole(role) {
		return Invitation{}, invalid("role must be one of owner, admin, member")
	}
	if email, err = NormalizeEmail(email); err != nil {
		return Invitation{}, err
	}
	if roleRank(role) > roleRank(actorRole) {
		return Invitation{}, ErrForbidden
	}
	token, err := newInviteToken()
	if err != nil {
		return Invitation{}, err
	}
	e, err := s.store.SaveEntity(ctx, tableInvites, map[string]any{
		"workspace_id": workspaceID,
		"email":        email,
		"role":         role,
		"token_hash":   hashToken(token),
		"invited_by":   actorID,
		"expires_at":   time.Now().Add(s.cfg.InviteTTL).UTC(),
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("workspaces: save invite: %w", err)
	}
	inv := invitationFrom(e)
	inv.Token = token
	s.log.InfoContext(ctx, "workspace invite created", "workspace_id", workspaceID, "invite_id", inv.ID, "role", role, "by", actorID)
	return inv, nil
}

// Join redeems the invite token for the user u (whose Email must be the
// invite's) and returns the new membership. An unknown, spent, revoked or
// expired token, one issued to another email, or one whose inviter is no
// longer a member with a role at least the invite's (owner > admin >
// member) is ErrInvalidInvite (which also matches auth.ErrInvalidInvite);
// a user already in the workspace gets
// ErrAlreadyMember and the invite stays unused. Of concurrent joins with one
// token exactly one succeeds.
func (s *Service) Join(ctx context.Context, u auth.User, token string) (Member, error) {
	if s.err != nil {
		return Member{}, s.err
	}
	var m Member
	err := s.store.Tx(ctx, func(tx *db.Store) error {
		var err error
		m, err = s.acceptInvite(ctx, tx, token, u)
		return err
	})
	if err != nil {
		return Member{}, err
	}
	s.membershipChanged(u.ID)
	s.log.InfoContext(ctx, "workspace joined", "workspace_id", m.WorkspaceID, "user_id", u.ID, "role", m.Role)
	return m, nil
}

// AcceptInvite redeems token for the new user u inside the caller's
// transaction tx and returns the workspace id; auth calls it while
// registering u with an invite_token (auth.WorkspaceHooks). Errors are those
// of Join.
func (s *Service) AcceptInvite(ctx context.Context, tx *db.Store, token string, u auth.User) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	m, err := s.acceptInvite(ctx, tx, token, u)
	return m.WorkspaceID, err
}

// CheckInvite reports, with one read, whether token is an open invite
// (known, unused, not revoked, not expired) addressed to email: nil, or an
// error wrapping ErrInvalidInvite. It consumes nothing; auth calls it
// before hashing a registering user's password (auth.WorkspaceHooks), so
// a made-up invite costs no hash. Redemption checks again, inviter
// included.
func (s *Service) CheckInvite(ctx context.Context, token, email string) error {
	if s.err != nil {
		return s.err
	}
	_, err := openInvite(ctx, s.store, token, email)
	return err
}

// openInvite returns the invites row of token when it is open and
// addressed to email, else ErrInvalidInvite.
func openInvite(ctx context.Context, st *db.Store, token, email string) (db.Entity, error) {
	if !strings.HasPrefix(token, InviteTokenPrefix) {
		return nil, ErrInvalidInvite
	}
	es, err := st.FindEntities(ctx, tableInvites, db.Query{
		Where:  "[token_hash] = ?",
		Params: []any{hashToken(token)},
		Limit:  1,
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: read invite: %w", err)
	}
	if len(es) == 0 {
		return nil, ErrInvalidInvite
	}
	inv := es[0]
	expires, err := time.Parse(time.RFC3339Nano, str(inv, "expires_at"))
	switch {
	case err != nil:
		return nil, fmt.Errorf("workspaces: invite %s has a bad expires_at: %w", str(inv, "id"), err)
	case str(inv, "used_at") != "",
		str(inv, "revoked_at") != "",
		!time.Now().Before(expires),
		str(inv, "email") != auth.NormalizeEmail(email):
		return nil, ErrInvalidInvite
	}
	return inv, nil
}

// acceptInvite does the work of Join inside tx. Single use rests on the
// unique index of invite_redemptions(invite_id): a second redemption of one
// invite fails on it even when both transactions read the invite as unused.
func (s *Service) acceptInvite(ctx context.Context, tx *db.Store, token string, u auth.User) (Member, error) {
	if u.ID == "" {
		return Member{}, ErrInvalidInvite
	}
	inv, err := openInvite(ctx, tx, token, u.Email)
	if err != nil {
		return Member{}, err
	}
	wsID := str(inv, "workspace_id")
	if _, err := tx.GetEntity(ctx, tableWorkspaces, wsID); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return Member{}, ErrInvalidInvite
		}
		return Member{}, fmt.Errorf("workspaces: read workspace of invite: %w", err)
	}
	// The invite speaks for its inviter, so it is worth no more than the
	// inviter is now: a removed or lowered admin's invites bring no one in.
	inviter, err := findMember(ctx, tx, wsID, str(inv, "invited_by"))
	if errors.Is(err, ErrNotFound) {
		return Member{}, ErrInvalidInvite
	}
	if err != nil {
		return Member{}, err
	}
	if !AtLeast(str(inviter, "role"), str(inv, "role")) {
		return Member{}, ErrInvalidInvite
	}
	_, err = tx.SaveEntity(ctx, tableRedemptions, map[string]any{
		"invite_id": str(inv, "id"),
		"user_id":   u.ID,
	})
	if errors.Is(err, db.ErrConflict) {
		return Member{}, ErrInvalidInvite
	}
	if err != nil {
		return Member{}, fmt.Errorf("workspaces: redeem invite: %w", err)
	}
	m, err := insertMember(ctx, tx, wsID, u.ID, str(inv, "role"))
	if err != nil {
		return Member{}, err
	}
	if _, err := tx.SaveEntity(ctx, tableInvites, map[string]any{
		"id":      str(inv, "id"),
		"used_at": time.Now().UTC(),
		"used_by": u.ID,
	}); err != nil {
		return Member{}, fmt.Errorf("workspaces: mark invite used: %w", err)
	}
	return m, nil
}

func newInviteToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("workspaces: invite token: %w", err)
	}
	return InviteTokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// hashToken is what the store keeps of a token: SHA-256, hex. The token has
// 256 random bits, so a fast unsalted hash is enough to make a stolen table
// useless.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func invitationFrom(e db.Entity) Invitation {
	return Invitation{
		ID:          str(e, "id"),
		WorkspaceID: str(e, "workspace_id"),
		Email:       str(e, "email"),
		Role:        str(e, "role"),
		InvitedBy:   str(e, "invited_by"),
		ExpiresAt:   str(e, "expires_at"),
		CreatedAt:   str(e, "created_at"),
	}
}
