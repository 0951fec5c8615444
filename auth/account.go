package auth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"appkernel/db"
	"appkernel/middleware"

	"github.com/google/uuid"
)

// Tokens is what register, login and refresh answer: the user, a new
// access token and a new refresh token.
type Tokens struct {
	User         User   `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"` // always "bearer"
	ExpiresIn    int64  `json:"expires_in"` // access-token lifetime in seconds
	// DeviceToken names this client a known device of the account (set
	// by Register and Login, not by Refresh): present it at the next
	// login (LoginInput.DeviceToken) to be throttled on the device's own
	// budget. The HTTP routes also set it as the DeviceCookie.
	DeviceToken string `json:"device_token,omitempty"`
}

// LoginInput is the body of POST /auth/login.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// DeviceToken is the device token of an earlier sign-in to this
	// account from this client, or "". A valid one is throttled on its
	// own budget (10 failures per 15 minutes) and is not refused when
	// strangers spent the account's budget; an invalid, expired or other
	// account's token counts as none. Over HTTP the DeviceCookie is
	// used when the field is empty.
	DeviceToken string `json:"device_token,omitempty"`
	// ClientIP is the client's address (the host of RemoteAddr behind the
	// kernel's RealIP); failures of unknown devices are throttled per
	// account and IP (an IPv6 address by its /64, see
	// middleware.ClientKey). Not read from the body.
	ClientIP string `json:"-"`
}

// RegisterInput is the body of POST /auth/register.
type RegisterInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// InviteToken, when set, must be a valid workspace invite for Email;
	// the new user joins that workspace, even when self-signup is off.
	InviteToken string `json:"invite_token,omitempty"`
}

// isText reports whether s is UTF-8 text without NUL, as every value the
// databases store and compare as text is (PostgreSQL refuses others).
func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// Register creates an account and signs it in (POST /auth/register).
// With self-signup off it answers ErrSignupDisabled unless the database has
// no user yet (the first user becomes admin; not with
// Config.NoFirstUserAdmin) or in.InviteToken is a valid invite. A personal workspace is created in the same transaction.
// Errors: ErrInvalidEmail, ErrInvalidPassword, ErrSignupDisabled,
// ErrInvalidInvite, ErrEmailTaken.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Tokens, error) {
	email, err := CanonicalEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(in.Password); err != nil {
		return nil, err
	}
	if in.InviteToken != "" {
		if s.cfg.Workspaces == nil {
			return nil, fmt.Errorf("auth: register: no workspaces configured: %w", ErrInvalidInvite)
		}
		// A bad invite is refused before paying for a hash (a made-up one
		// would otherwise buy 19 MiB and tens of ms of CPU for one read).
		// The check reads the invite alone, the same for a taken and a
		// free email.
		if err := s.cfg.Workspaces.CheckInvite(ctx, in.InviteToken, email); err != nil {
			if errors.Is(err, ErrInvalidInvite) {
				return nil, ErrInvalidInvite
			}
			return nil, fmt.Errorf("auth: register: check invite: %w", err)
		}
	}
	// Refuse a closed signup before paying for a hash.
	if !s.cfg.AllowSelfSignup && in.InviteToken == "" {
		if s.cfg.NoFirstUserAdmin {
			return nil, ErrSignupDisabled
		}
		n, err := s.store.CountEntities(ctx, TableUsers, "")
		if err != nil {
			return nil, fmt.Errorf("auth: register: %w", err)
		}
		if n > 0 {
			return nil, ErrSignupDisabled
		}
	}
	hash, err := s.hasher.hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u, err := s.insertUser(ctx, newUser{email: email, hash: hash, invite: in.InviteToken, open: s.cfg.AllowSelfSignup, bootstrap: !s.cfg.NoFirstUserAdmin})
	if errors.Is(err, ErrEmailTaken) && !s.cfg.AllowSelfSignup && in.InviteToken != "" {
		// With signup closed, a made-up invite token must not reveal which
		// emails have accounts: a taken email reads as a bad invite (an
		// invitee who already has an account signs in and joins instead).
		return nil, ErrInvalidInvite
	}
	if err != nil {
		return nil, err
	}
	return s.startSession(ctx, u)
}

// CreateUserInput describes an account made by CreateUser.
type CreateUserInput struct {
	Email    string
	Password string
	// Role is RoleAdmin or RoleUser. Defaults to RoleUser.
	Role string
	// Inactive creates the account deactivated.
	Inactive bool
}

// CreateUser makes an account without signing it in and without the
// signup rules, for seed scripts and admin tools. The password rules still
// apply. A personal workspace is created when workspaces are configured.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (User, error) {
	email, err := CanonicalEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	if err := checkPassword(in.Password); err != nil {
		return User{}, err
	}
	if in.Role == "" {
		in.Role = RoleUser
	}
	if in.Role != RoleAdmin && in.Role != RoleUser {
		return User{}, ErrInvalidRole
	}
	hash, err := s.hasher.hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	return s.insertUser(ctx, newUser{email: email, hash: hash, open: true, role: in.Role, inactive: in.Inactive})
}

type newUser struct {
	email, hash string
	invite      string
	open        bool   // signup open to anyone
	bootstrap   bool   // the first user of the database becomes admin
	role        string // fixed role (CreateUser); "" = by the bootstrap rule
	inactive    bool
	// verified marks the email verified (an OAuth provider vouched for it).
	verified bool
	// link, when set, runs inside the transaction once u is stored (OAuth
	// links the provider account there). hash "" stores no password.
	link func(ctx context.Context, tx *db.Store, u User) error
}

// insertUser stores a user, its password hash and workspaces in one
// transaction. The unique index on email makes concurrent duplicates fail;
// the unique index on first_admin lets exactly one concurrent registration
// become the bootstrap admin — the others are retried as ordinary users.
func (s *Service) insertUser(ctx context.Context, nu newUser) (User, error) {
	busy := 0
	for {
		var u User
		var first bool
		err := s.store.Tx(ctx, func(tx *db.Store) error {
			first = false
			if nu.bootstrap {
				n, err := tx.CountEntities(ctx, TableUsers, "")
				if err != nil {
					return err
				}
				first = n == 0
			}
			if !first && !nu.open && nu.invite == "" {
				return ErrSignupDisabled
			}
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			if h := s.cfg.Workspaces; h != nil && nu.invite != "" {
				// The invite is redeemed before the account is stored, so
				// that with a bad invite a taken email and a free one fail
				// at the same point: with signup closed Register must not
				// tell them apart, also not by its time.
				if _, err := h.AcceptInvite(ctx, tx, nu.invite, User{ID: id.String(), Email: nu.email, Role: RoleUser}); err != nil {
					return err
				}
			}
			row := db.Entity{"id": id.String(), "email": nu.email, "role": RoleUser, "is_active": !nu.inactive, "workspace_id": ""}
			if nu.role != "" {
				row["role"] = nu.role
			}
			if nu.verified {
				row["email_verified"] = true
			}
			if first {
				row["role"] = RoleAdmin
				row["first_admin"] = int64(1)
			}
			e, err := tx.SaveEntity(ctx, TableUsers, row)
			if err != nil {
				return err
			}
			u = userOf(e)
			if nu.hash != "" {
				if _, err := tx.SaveEntity(ctx, TablePasswords, db.Entity{"user_id": u.ID, "hash": nu.hash}); err != nil {
					return err
				}
			}
			if nu.link != nil {
				if err := nu.link(ctx, tx, u); err != nil {
					return err
				}
			}
			if h := s.cfg.Workspaces; h != nil {
				ws, err := h.CreatePersonal(ctx, tx, u)
				if err != nil {
					return fmt.Errorf("personal workspace: %w", err)
				}
				if _, err := tx.SaveEntity(ctx, TableUsers, db.Entity{"id": u.ID, "workspace_id": ws}); err != nil {
					return err
				}
				u.WorkspaceID = ws
			}
			return nil
		})
		if err == nil {
			s.log.InfoContext(ctx, "user created", "user_id", u.ID, "role", u.Role)
			return u, nil
		}
		if errors.Is(err, db.ErrBusy) && busy < maxBusyRetries {
			// Concurrent first registrations fight over the same unique
			// keys; MySQL answers some with deadlocks the store already
			// retried. Keep trying a little longer before giving up.
			busy++
			if werr := sleepJitter(ctx, busy); werr != nil {
				return User{}, fmt.Errorf("auth: create user: %w", err)
			}
			continue
		}
		if !errors.Is(err, db.ErrConflict) {
			return User{}, fmt.Errorf("auth: create user: %w", err)
		}
		// Which unique index broke? A taken email is final; a lost race
		// for the bootstrap slot is retried as an ordinary registration.
		taken, ferr := s.store.CountEntities(ctx, TableUsers, "[email] = ?", nu.email)
		if ferr != nil {
			return User{}, fmt.Errorf("auth: create user: %w", ferr)
		}
		if taken > 0 {
			return User{}, ErrEmailTaken
		}
		if !first {
			return User{}, fmt.Errorf("auth: create user: %w", err)
		}
		nu.bootstrap = false
	}
}

// Login checks an email and password and starts a session
// (POST /auth/login). Failures are throttled: a known device (a valid
// in.DeviceToken of the account) on its own budget, any other client per
// account and IP and per account (see LoginInput). An unknown email and a
// wrong password give the same ErrInvalidCredentials after the same work
// (a dummy hash is verified). A success answers a fresh device token.
// Errors: ErrInvalidCredentials, ErrAccountDisabled, *ThrottleError.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Tokens, error) {
	email, password := NormalizeEmail(in.Email), in.Password
	if password == "" || len(password) > MaxPasswordLen || len(email) > 254 || !isText(email) {
		// (No account has such an email: Register refuses it.)
		return nil, ErrInvalidCredentials
	}
	account := accountKey(email)
	att, err := s.throttle.reserve(ctx, client{
		account: account,
		ip:      middleware.ClientKey(in.ClientIP),
		device:  s.devices.verify(account, in.DeviceToken),
	})
	if err != nil {
		if errors.Is(err, ErrTooManyAttempts) {
			s.throttled("account")
		}
		return nil, err
	}
	u, hash, err := s.userByEmail(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		if err := s.hasher.verifyDummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, rehash, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return nil, fmt.Errorf("auth: login: user %s: %w", u.ID, err)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	if err := s.throttle.succeeded(ctx, att); err != nil {
		s.log.WarnContext(ctx, "login throttle not reset", "user_id", u.ID, "err", err)
	}
	if !u.IsActive {
		return nil, ErrAccountDisabled
	}
	if rehash {
		if h, ok := s.upgradeHash(ctx, u.ID, password); ok {
			hash = h
		}
	}
	sid, raw, err := s.openSession(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := s.checkPasswordKept(ctx, u.ID, sid, password, hash); err != nil {
		return nil, err
	}
	t, err := s.tokens(u, sid, raw)
	if err != nil {
		return nil, err
	}
	t.DeviceToken = s.devices.issue(account)
	return t, nil
}

// checkPasswordKept makes sure a password change that ran while Login was
// verifying ends the new session sid: the login verified hash, and the
// session is now committed. ChangePassword commits the new hash before it
// looks for the sessions to end, so either that search saw sid (and ends
// it), or this read sees the new hash — then the password is verified
// again against it (a concurrent rehash changes the hash, not the
// password), and the session ended when it no longer matches.
func (s *Service) checkPasswordKept(ctx context.Context, userID, sid, password, hash string) error {
	pw, err := s.passwordRow(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		err = ErrInvalidCredentials // removed meanwhile (an OAuth sign-in claimed the account)
	}
	if err == nil {
		if cur, _ := pw["hash"].(string); cur != hash {
			var ok bool
			ok, _, err = s.hasher.verify(ctx, password, cur)
			if err == nil && !ok {
				err = ErrInvalidCredentials
			}
		}
	}
	if err == nil {
		return nil
	}
	if rerr := s.revokeSession(ctx, sid); rerr != nil {
		s.log.WarnContext(ctx, "session of a superseded password not revoked", "user_id", userID, "session_id", sid, "err", rerr)
	}
	if errors.Is(err, ErrInvalidCredentials) {
		s.log.InfoContext(ctx, "login refused: password changed meanwhile", "user_id", userID)
		return err
	}
	return fmt.Errorf("auth: login: user %s: %w", userID, err)
}

// upgradeHash rehashes a password whose hash has outdated parameters and
// returns the new hash. A failure is logged and retried at the next login.
func (s *Service) upgradeHash(ctx context.Context, userID, password string) (string, bool) {
	hash, err := s.hasher.hash(ctx, password)
	if err == nil {
		err = s.setHash(ctx, userID, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password hash upgrade failed", "user_id", userID, "err", err)
		return "", false
	}
	s.log.InfoContext(ctx, "password hash upgraded", "user_id", userID)
	return hash, true
}

// noUserID names no user: an unknown email looks up its password row, so
// that both answers of Login run the same statements.
const noUserID = "00000000-0000-0000-0000-000000000000"

// userByEmail returns the live user of a normalized email and its hash,
// or db.ErrNotFound. It sends two statements whether the email is known
// or not, so that the time to the argon2 check reveals nothing.
func (s *Service) userByEmail(ctx context.Context, email string) (User, string, error) {
	rows, err := s.store.FindEntities(ctx, TableUsers, db.Query{Where: "[email] = ?", Params: []any{email}, Limit: 1})
	if err != nil {
		return User{}, "", fmt.Errorf("auth: find user: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.passwordRow(ctx, noUserID); !errors.Is(err, db.ErrNotFound) {
			s.log.WarnContext(ctx, "password lookup of no user", "err", err)
		}
		return User{}, "", db.ErrNotFound
	}
	u := userOf(rows[0])
	pw, err := s.passwordRow(ctx, u.ID)
	if err != nil {
		return User{}, "", err
	}
	hash, _ := pw["hash"].(string)
	return u, hash, nil
}

// passwordRow returns the user_passwords row of userID. The hash lives
// apart from users so that it never reaches users' history, change
// observers of users, or a careless SELECT of users.
func (s *Service) passwordRow(ctx context.Context, userID string) (db.Entity, error) {
	rows, err := s.store.FindEntities(ctx, TablePasswords, db.Query{Where: "[user_id] = ?", Params: []any{userID}, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("auth: password of %s: %w", userID, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("auth: password of %s: %w", userID, db.ErrNotFound)
	}
	return rows[0], nil
}

// setHash replaces the password hash of userID.
func (s *Service) setHash(ctx context.Context, userID, hash string) error {
	pw, err := s.passwordRow(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := s.store.SaveEntity(ctx, TablePasswords, db.Entity{"id": pw["id"], "hash": hash}); err != nil {
		return fmt.Errorf("auth: password of %s: %w", userID, err)
	}
	return nil
}

// GetUser returns the user with the given id (its personal workspace as
// WorkspaceID). Error: ErrUserNotFound.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	e, err := s.store.GetEntity(ctx, TableUsers, id)
	if errors.Is(err, db.ErrNotFound) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: get user: %w", err)
	}
	return userOf(e), nil
}

// GetUserByEmail returns the user with the given email (normalized first).
// Error: ErrUserNotFound.
func (s *Service) GetUserByEmail(ctx context.Context, email string) (User, error) {
	rows, err := s.store.FindEntities(ctx, TableUsers, db.Query{Where: "[email] = ?", Params: []any{NormalizeEmail(email)}, Limit: 1})
	if err != nil {
		return User{}, fmt.Errorf("auth: find user: %w", err)
	}
	if len(rows) == 0 {
		return User{}, ErrUserNotFound
	}
	return userOf(rows[0]), nil
}

// ChangePassword replaces the password of userID after checking the
// current one (POST /auth/password) and ends every other session of the
// user: keepSessionID (the caller's session, "" for none) survives.
// Failed checks are throttled like logins: those of a session (a client
// that signed in) on the session's own budget, as a known device's, so a
// stolen access token gets 10 guesses per 15 minutes and cannot lock the
// owner out; without a session per account and IP and per account.
// Errors: ErrWrongPassword, ErrInvalidPassword, *ThrottleError, ErrUserNotFound.
func (s *Service) ChangePassword(ctx context.Context, userID, keepSessionID, current, next, clientIP string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := checkPassword(next); err != nil {
		return err
	}
	if len(current) > MaxPasswordLen {
		return ErrWrongPassword
	}
	c := client{account: accountKey(u.Email), ip: middleware.ClientKey(clientIP)}
	if keepSessionID != "" {
		c.device = "session:" + keepSessionID
	}
	att, err := s.throttle.reserve(ctx, c)
	if err != nil {
		return err
	}
	pw, err := s.passwordRow(ctx, userID)
	if err != nil {
		return err
	}
	old, _ := pw["hash"].(string)
	ok, _, err := s.hasher.verify(ctx, current, old)
	if err != nil {
		return fmt.Errorf("auth: change password of %s: %w", userID, err)
	}
	if !ok {
		return ErrWrongPassword
	}
	if err := s.throttle.succeeded(ctx, att); err != nil {
		s.log.WarnContext(ctx, "login throttle not reset", "user_id", userID, "err", err)
	}
	hash, err := s.hasher.hash(ctx, next)
	if err != nil {
		return err
	}
	// The new hash is committed before the search for sessions to end
	// starts: a Login racing with the change relies on this order (see
	// checkPasswordKept). Both in one transaction would let a session
	// committed between them escape.
	if err := s.setHash(ctx, userID, hash); err != nil {
		return err
	}
	if err := s.revokeSessions(ctx, userID, keepSessionID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "password changed", "user_id", userID)
	return nil
}

// SetRole gives userID the role RoleAdmin or RoleUser. It takes effect on
// the user's next request in this process and within IdentityCacheTTL in
// others. Errors: ErrInvalidRole, ErrUserNotFound.
func (s *Service) SetRole(ctx context.Context, userID, role string) (User, error) {
	if role != RoleAdmin && role != RoleUser {
		return User{}, ErrInvalidRole
	}
	return s.updateUser(ctx, userID, db.Entity{"role": role})
}

// MakeAdmin gives userID the admin role (SetRole with RoleAdmin).
func (s *Service) MakeAdmin(ctx context.Context, userID string) (User, error) {
	return s.SetRole(ctx, userID, RoleAdmin)
}

// SetActive activates or deactivates userID. A deactivated user cannot
// log in (ErrAccountDisabled), and its sessions end: its access tokens stop
// working at once in this process and within IdentityCacheTTL in others,
// and its refresh tokens are refused — also after a reactivation, so that
// tokens stolen before a suspension stay dead; the user logs in again.
// Error: ErrUserNotFound.
func (s *Service) SetActive(ctx context.Context, userID string, active bool) (User, error) {
	u, err := s.updateUser(ctx, userID, db.Entity{"is_active": active})
	if err != nil || active {
		return u, err
	}
	if err := s.revokeSessions(ctx, userID, ""); err != nil {
		return u, err
	}
	return u, nil
}

func (s *Service) updateUser(ctx context.Context, userID string, fields db.Entity) (User, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return User{}, err
	}
	fields["id"] = userID
	e, err := s.store.SaveEntity(ctx, TableUsers, fields)
	if err != nil {
		return User{}, fmt.Errorf("auth: update user %s: %w", userID, err)
	}
	s.users.Forget(userID)
	return userOf(e), nil
}

// userOf maps a users row to User. It reads only the public fields.
func userOf(e db.Entity) User {
	u := User{Role: RoleUser}
	u.ID, _ = e["id"].(string)
	u.Email, _ = e["email"].(string)
	if r, ok := e["role"].(string); ok && r != "" {
		u.Role = r
	}
	u.IsActive, _ = e["is_active"].(bool)
	u.EmailVerified, _ = e["email_verified"].(bool)
	u.WorkspaceID, _ = e["workspace_id"].(string)
	u.CreatedAt, _ = e["created_at"].(string)
	if e["deleted_at"] != nil {
		u.IsActive = false
	}
	return u
}

// maxBusyRetries bounds insertUser's own retries of a transaction the
// store gave up on as busy (deadlocks under concurrent registrations).
const maxBusyRetries = 8

// sleepJitter waits a random 5–25 ms times attempt, or until ctx is done.
func sleepJitter(ctx context.Context, attempt int) error {
	d := time.Duration(attempt) * (5*time.Millisecond + time.Duration(rand.Int64N(int64(20*time.Millisecond))))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
