package auth

import (
	"context"
	"errors"
	"fmt"
)

// EnsureAdmin makes sure an account with email exists, creating it as an
// admin with password when there is none: the operator's way to the first
// admin of a production deployment (the kernel calls it at start-up with
// ADMIN_EMAIL and ADMIN_PASSWORD). An existing account is left exactly as
// it is — its password is never overwritten and its role never raised, so
// an account someone else registered under that email first gains
// nothing; the log line then says so. Concurrent calls (several instances
// starting at once) create one account. It logs one line and returns the
// account and whether it was created. Errors: ErrInvalidEmail,
// ErrInvalidPassword (the password rules apply).
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (User, bool, error) {
	u, err := s.CreateUser(ctx, CreateUserInput{Email: email, Password: password, Role: RoleAdmin})
	if err == nil {
		s.log.InfoContext(ctx, "admin bootstrap: admin account created", "user_id", u.ID)
		return u, true, nil
	}
	if !errors.Is(err, ErrEmailTaken) {
		return User{}, false, fmt.Errorf("auth: ensure admin: %w", err)
	}
	u, err = s.GetUserByEmail(ctx, email)
	if err != nil {
		return User{}, false, fmt.Errorf("auth: ensure admin: %w", err)
	}
	if u.IsAdmin() {
		s.log.InfoContext(ctx, "admin bootstrap: the admin account exists, left unchanged", "user_id", u.ID)
	} else {
		s.log.WarnContext(ctx, "admin bootstrap: an account with the admin email exists but is not an admin; left unchanged (promote it with MakeAdmin if it is yours)", "user_id", u.ID, "role", u.Role)
	}
	return u, false, nil
}
