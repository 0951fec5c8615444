package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"appkernel/db"
)

// A started sign-in is a row of oauth_states, keyed by the SHA-256 of its
// state, and the same state in a cookie of the browser that started it.
// The callback needs both: the cookie binds the state to the browser
// (login CSRF), and the row makes it one-time across every instance (the
// row is deleted by the first callback; a second finds nothing). The row
// also records the provider (mix-up defence), the PKCE verifier, the OIDC
// nonce, where to return and who asked for a link.
type oauthState struct {
	provider   string
	verifier   string
	nonce      string
	redirect   string
	callback   string
	linkUserID string
	invite     string
	expires    time.Time
}

// randomToken returns n random bytes as base64url.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// saveState stores st and returns its state value.
func (o *OAuth) saveState(ctx context.Context, st oauthState) (string, error) {
	state, err := randomToken(32)
	if err != nil {
		return "", fmt.Errorf("auth: oauth state: %w", err)
	}
	_, err = o.s.store.SaveEntity(ctx, TableOAuthStates, db.Entity{
		"state_hash": hashToken(state), "provider": st.provider, "verifier": st.verifier, "nonce": st.nonce,
		"redirect": st.redirect, "callback": st.callback, "link_user_id": st.linkUserID, "invite": st.invite,
		"expires_at": st.expires,
	})
	if err != nil {
		return "", fmt.Errorf("auth: oauth state: %w", err)
	}
	o.sweepStates(ctx)
	return state, nil
}

// takeState checks the callback's state against the browser's cookie and
// spends it: of concurrent callbacks with one state, one gets it. Error:
// ErrOAuthState.
func (o *OAuth) takeState(ctx context.Context, provider, state, cookie string) (oauthState, error) {
	if state == "" || cookie == "" || len(state) > 100 || subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
		return oauthState{}, withMsg(ErrOAuthState, "sign-in state is missing or not this browser's; start the sign-in again")
	}
	rows, err := o.s.store.FindEntities(ctx, TableOAuthStates, db.Query{Where: "[state_hash] = ?", Params: []any{hashToken(state)}, Limit: 1})
	if err != nil {
		return oauthState{}, fmt.Errorf("auth: oauth state: %w", err)
	}
	if len(rows) == 0 {
		return oauthState{}, ErrOAuthState
	}
	row := rows[0]
	id, _ := row["id"].(string)
	deleted, err := o.s.store.DeleteEntity(ctx, TableOAuthStates, id, true)
	if err != nil {
		return oauthState{}, fmt.Errorf("auth: oauth state: %w", err)
	}
	if !deleted {
		return oauthState{}, ErrOAuthState // spent by a concurrent callback
	}
	str := func(k string) string { s, _ := row[k].(string); return s }
	st := oauthState{
		provider: str("provider"), verifier: str("verifier"), nonce: str("nonce"), redirect: str("redirect"),
		callback: str("callback"), linkUserID: str("link_user_id"), invite: str("invite"),
	}
	exp, ok := parseTime(row["expires_at"])
	if !ok || !o.s.now().Before(exp) {
		return oauthState{}, withMsg(ErrOAuthState, "sign-in state expired; start the sign-in again")
	}
	if st.provider != provider {
		// A state started with another provider: a mix-up attack, or a
		// confused client. Either way it is spent now.
		return oauthState{}, withMsg(ErrOAuthState, "sign-in state belongs to another provider")
	}
	st.expires = exp
	return st, nil
}

// sweepStates deletes a few expired states, so abandoned sign-ins do not
// pile up; every start pays for at most one read and a few deletes.
func (o *OAuth) sweepStates(ctx context.Context) {
	rows, err := o.s.store.FindEntities(ctx, TableOAuthStates, db.Query{Where: "[expires_at] < ?", Params: []any{db.FormatTime(o.s.now())}, Limit: 5})
	for _, r := range rows {
		id, _ := r["id"].(string)
		if _, derr := o.s.store.DeleteEntity(ctx, TableOAuthStates, id, true); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		o.s.log.WarnContext(ctx, "expired oauth states not swept", "err", err)
	}
}
