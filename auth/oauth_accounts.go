package auth

import (
	"context"
	"errors"
	"fmt"

	"appkernel/db"
)

// OAuthAccount is a provider account linked to a user (GET
// /auth/oauth/accounts). Provider tokens are not kept.
type OAuthAccount struct {
	Provider  string `json:"provider"`
	Email     string `json:"email"` // the verified email the provider gave at linking
	CreatedAt string `json:"created_at"`
}

// signInOAuth finds or makes the user of a provider account, in this
// order: the user it is linked to; the signed-in user who started the
// sign-in (linked now); the user with the same email (linked now — an
// email nobody verified loses its password and sessions, see
// claimByEmail); a new user under the signup rules of Register.
func (o *OAuth) signInOAuth(ctx context.Context, provider string, p oauthProfile, st oauthState) (User, error) {
	for attempt := 0; ; attempt++ {
		u, err := o.resolve(ctx, provider, p, st)
		// A concurrent sign-in of the same account (or a registration of
		// the same email) won a unique index: look again.
		if attempt < 3 && (errors.Is(err, db.ErrConflict) || errors.Is(err, ErrEmailTaken)) {
			continue
		}
		if err != nil {
			return User{}, err
		}
		if !u.IsActive {
			return User{}, ErrAccountDisabled
		}
		return u, nil
	}
}

func (o *OAuth) resolve(ctx context.Context, provider string, p oauthProfile, st oauthState) (User, error) {
	s := o.s
	rows, err := s.store.FindEntities(ctx, TableOAuthAccounts, db.Query{
		Where: "[provider] = ? AND [subject] = ?", Params: []any{provider, p.subject}, Limit: 1,
	})
	if err != nil {
		return User{}, fmt.Errorf("auth: oauth account: %w", err)
	}
	if len(rows) > 0 {
		uid, _ := rows[0]["user_id"].(string)
		if st.linkUserID != "" && st.linkUserID != uid {
			return User{}, ErrOAuthLinked
		}
		return s.GetUser(ctx, uid)
	}
	if st.linkUserID != "" {
		u, err := s.GetUser(ctx, st.linkUserID)
		if err != nil {
			return User{}, err
		}
		if !u.IsActive {
			return User{}, ErrAccountDisabled
		}
		return u, o.link(ctx, s.store, u.ID, provider, p)
	}
	u, err := s.GetUserByEmail(ctx, p.email)
	if err == nil {
		return o.claimByEmail(ctx, u, provider, p)
	}
	if !errors.Is(err, ErrUserNotFound) {
		return User{}, err
	}
	return o.signUp(ctx, provider, p, st.invite)
}

// link stores the link of a provider account to userID (in tx when the
// caller has one). Error: ErrOAuthLinked when the user has another
// account of that provider.
func (o *OAuth) link(ctx context.Context, tx *db.Store, userID, provider string, p oauthProfile) error {
	rows, err := tx.FindEntities(ctx, TableOAuthAccounts, db.Query{Where: "[user_id] = ? AND [provider] = ?", Params: []any{userID, provider}, Limit: 1})
	if err != nil {
		return fmt.Errorf("auth: oauth link: %w", err)
	}
	if len(rows) > 0 {
		if rows[0]["subject"] == p.subject {
			return nil // linked meanwhile by a concurrent sign-in of the same account
		}
		return ErrOAuthLinked
	}
	_, err = tx.SaveEntity(ctx, TableOAuthAccounts, db.Entity{
		"provider": provider, "subject": p.subject, "user_id": userID, "email": p.email,
	})
	if err != nil {
		return fmt.Errorf("auth: oauth link: %w", err)
	}
	o.s.log.InfoContext(ctx, "oauth account linked", "user_id", userID, "provider", provider)
	return nil
}

// claimByEmail links the provider account to u, who has the email the
// provider verified. When u's own email was never verified, whoever made
// u may not own the address — an attacker can register a victim's email
// with a password before the victim first signs in with a provider — so
// u's password is removed and its sessions are ended: from now on only
// the provider (the address's verified owner) signs in, until a password
// is set again.
func (o *OAuth) claimByEmail(ctx context.Context, u User, provider string, p oauthProfile) (User, error) {
	s := o.s
	if !u.IsActive {
		return User{}, ErrAccountDisabled
	}
	takeover := !u.EmailVerified
	err := s.store.Tx(ctx, func(tx *db.Store) error {
		if err := o.link(ctx, tx, u.ID, provider, p); err != nil {
			return err
		}
		if !takeover {
			return nil
		}
		rows, err := tx.FindEntities(ctx, TablePasswords, db.Query{Where: "[user_id] = ?", Params: []any{u.ID}})
		if err != nil {
			return err
		}
		for _, r := range rows {
			id, _ := r["id"].(string)
			if _, err := tx.DeleteEntity(ctx, TablePasswords, id, true); err != nil {
				return err
			}
		}
		_, err = tx.SaveEntity(ctx, TableUsers, db.Entity{"id": u.ID, "email_verified": true})
		return err
	})
	if err != nil {
		return User{}, err
	}
	if takeover {
		// After the commit: a login verifying the removed password either
		// finished before (its session is ended here) or fails its
		// check that the password is still there (checkPasswordKept).
		if err := s.revokeSessions(ctx, u.ID, ""); err != nil {
			return User{}, err
		}
		s.users.Forget(u.ID)
		u.EmailVerified = true
		s.log.InfoContext(ctx, "unverified account claimed by a verified provider email: password removed, sessions ended",
			"user_id", u.ID, "provider", provider)
	}
	return u, nil
}

// signUp makes a new user for the provider account under Register's
// rules: open signup, the first user of an empty database, or a valid
// invite for the email (given at the start of the sign-in). The user has
// no password and a verified email.
func (o *OAuth) signUp(ctx context.Context, provider string, p oauthProfile, invite string) (User, error) {
	s := o.s
	if invite != "" {
		if s.cfg.Workspaces == nil {
			return User{}, ErrInvalidInvite
		}
		if err := s.cfg.Workspaces.CheckInvite(ctx, invite, p.email); err != nil {
			if errors.Is(err, ErrInvalidInvite) {
				return User{}, ErrInvalidInvite
			}
			return User{}, fmt.Errorf("auth: oauth sign-up: check invite: %w", err)
		}
	}
	return s.insertUser(ctx, newUser{
		email: p.email, invite: invite, open: s.cfg.AllowSelfSignup, bootstrap: !s.cfg.NoFirstUserAdmin,
		verified: true,
		link: func(ctx context.Context, tx *db.Store, u User) error {
			return o.link(ctx, tx, u.ID, provider, p)
		},
	})
}

// Accounts returns the provider accounts linked to userID.
func (o *OAuth) Accounts(ctx context.Context, userID string) ([]OAuthAccount, error) {
	rows, err := o.s.store.FindEntities(ctx, TableOAuthAccounts, db.Query{
		Where: "[user_id] = ?", Params: []any{userID}, OrderBy: "[provider] ASC",
	})
	if err != nil {
		return nil, fmt.Errorf("auth: oauth accounts: %w", err)
	}
	out := make([]OAuthAccount, len(rows))
	for i, r := range rows {
		out[i].Provider, _ = r["provider"].(string)
		out[i].Email, _ = r["email"].(string)
		out[i].CreatedAt, _ = r["created_at"].(string)
	}
	return out, nil
}

// Unlink removes the link of userID's account of provider. Errors:
// ErrUnknownProvider (none linked), ErrLastSignInMethod (the user has no
// password and no other provider).
func (o *OAuth) Unlink(ctx context.Context, userID, provider string) error {
	s := o.s
	return s.store.Tx(ctx, func(tx *db.Store) error {
		// Writing the user's row first serializes concurrent unlinks of
		// one user (a row lock), so two of them cannot each count the
		// other's provider and leave none.
		u, err := tx.GetEntity(ctx, TableUsers, userID)
		if err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return ErrUserNotFound
			}
			return err
		}
		if _, err := tx.SaveEntity(ctx, TableUsers, db.Entity{"id": userID, "email_verified": userOf(u).EmailVerified}); err != nil {
			return err
		}
		rows, err := tx.FindEntities(ctx, TableOAuthAccounts, db.Query{Where: "[user_id] = ?", Params: []any{userID}})
		if err != nil {
			return err
		}
		var target string
		for _, r := range rows {
			if r["provider"] == provider {
				target, _ = r["id"].(string)
			}
		}
		if target == "" {
			return ErrUnknownProvider
		}
		if len(rows) == 1 {
			n, err := tx.CountEntities(ctx, TablePasswords, "[user_id] = ?", userID)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastSignInMethod
			}
		}
		if _, err := tx.DeleteEntity(ctx, TableOAuthAccounts, target, true); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "oauth account unlinked", "user_id", userID, "provider", provider)
		return nil
	})
}
