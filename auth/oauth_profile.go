package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oauthProfile is who the provider says signed in: a stable subject and
// a verified email (canonical).
type oauthProfile struct {
	subject string
	email   string
}

// profile reads the signed-in account from the provider's token answer.
func (o *OAuth) profile(ctx context.Context, p *oauthProvider, cfg *oauth2.Config, tok *oauth2.Token, nonce string) (oauthProfile, error) {
	if p.cfg.IssuerURL != "" {
		return o.oidcProfile(ctx, p, tok, nonce)
	}
	return o.githubProfile(ctx, p, cfg, tok)
}

// oidcProfile verifies the ID token (signature by the issuer's keys,
// issuer, audience = our client id, expiry, nonce) and reads its subject
// and email, which must be verified.
func (o *OAuth) oidcProfile(ctx context.Context, p *oauthProvider, tok *oauth2.Token, nonce string) (oauthProfile, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return oauthProfile{}, fmt.Errorf("%w: %s answered no id_token", ErrOAuthProvider, p.name)
	}
	p.mu.Lock()
	prov := p.oidc
	p.mu.Unlock()
	v := prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: o.s.cfg.Now})
	idt, err := v.Verify(o.clientContext(ctx), raw)
	if err != nil {
		return oauthProfile{}, fmt.Errorf("%w: %s: %v", ErrOAuthIDToken, p.name, err)
	}
	if nonceMismatch(idt.Nonce, nonce) {
		return oauthProfile{}, fmt.Errorf("%w: %s: nonce mismatch", ErrOAuthIDToken, p.name)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // a bool, or "true" from some providers
	}
	if err := idt.Claims(&claims); err != nil {
		return oauthProfile{}, fmt.Errorf("%w: %s: claims: %v", ErrOAuthIDToken, p.name, err)
	}
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	if claims.Email == "" || !verified {
		return oauthProfile{}, ErrEmailNotVerified
	}
	return newProfile(idt.Subject, claims.Email)
}

func nonceMismatch(got, want string) bool { return want != "" && got != want }

// githubProfile reads GET /user (the numeric id is the subject) and GET
// /user/emails, whose primary email must be verified.
func (o *OAuth) githubProfile(ctx context.Context, p *oauthProvider, cfg *oauth2.Config, tok *oauth2.Token) (oauthProfile, error) {
	client := cfg.Client(o.clientContext(ctx), tok)
	var user struct {
		ID int64 `json:"id"`
	}
	if err := getJSON(ctx, client, p.cfg.APIURL+"/user", &user); err != nil {
		return oauthProfile{}, fmt.Errorf("%w: %s /user: %v", ErrOAuthProvider, p.name, err)
	}
	if user.ID == 0 {
		return oauthProfile{}, fmt.Errorf("%w: %s /user: no id", ErrOAuthProvider, p.name)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := getJSON(ctx, client, p.cfg.APIURL+"/user/emails", &emails); err != nil {
		return oauthProfile{}, fmt.Errorf("%w: %s /user/emails: %v", ErrOAuthProvider, p.name, err)
	}
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			return newProfile(strconv.FormatInt(user.ID, 10), e.Email)
		}
	}
	return oauthProfile{}, ErrEmailNotVerified
}

func newProfile(subject, email string) (oauthProfile, error) {
	if subject == "" || len(subject) > 255 || !isText(subject) {
		return oauthProfile{}, fmt.Errorf("%w: subject %q", ErrOAuthProvider, subject)
	}
	canon, err := CanonicalEmail(email)
	if err != nil {
		return oauthProfile{}, err
	}
	return oauthProfile{subject: subject, email: canon}, nil
}

// getJSON GETs url with client and decodes a 200 answer of at most 1 MiB.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", res.StatusCode, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}
