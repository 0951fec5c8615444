package workspaces

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"appkernel/auth"
	"appkernel/db"
)

// Users looks up users by id, so that member lists can say who the members
// are (their email). *auth.Service implements it; the kernel passes its
// auth service (Config.Users, or SetUsers once auth is built).
type Users interface {
	// GetUser returns the user with the given id. For an id it does not
	// know it returns an error matching auth.ErrUserNotFound (or
	// db.ErrNotFound).
	GetUser(ctx context.Context, id string) (auth.User, error)
}

var _ Users = (*auth.Service)(nil)

// membershipCache is implemented by *auth.Service, which caches each
// user's workspace memberships for X-Workspace-ID (see
// auth.MembershipCacheTTL).
type membershipCache interface {
	ForgetMemberships(userID string)
}

var _ membershipCache = (*auth.Service)(nil)

// membershipChanged tells the Users, when it caches memberships (as
// *auth.Service does), that userID's memberships changed, so that a member
// added or removed in this process counts at the user's next request.
// Other processes see the change within auth.MembershipCacheTTL.
func (s *Service) membershipChanged(userID string) {
	if ref := s.users.Load(); ref != nil {
		if c, ok := ref.Users.(membershipCache); ok {
			c.ForgetMemberships(userID)
		}
	}
}

// usersRef holds the Users of a Service, so SetUsers can swap it while
// requests run.
type usersRef struct{ Users }

// SetUsers sets (or, with nil, clears) the Users the Service reads member
// emails from, replacing Config.Users. When u also caches memberships
// (*auth.Service does), the Service tells it of every membership it adds
// or removes, so X-Workspace-ID sees the change at once in this process. It is for the kernel, which builds
// the Service before auth (auth takes the Service as its WorkspaceHooks):
//
//	ws := workspaces.New(workspaces.Config{Store: store})
//	a, err := auth.New(ctx, auth.Config{Store: store, Workspaces: ws, ...})
//	ws.SetUsers(a)
//
// It is safe to call while the Service serves requests.
func (s *Service) SetUsers(u Users) {
	if u == nil {
		s.users.Store(nil)
		return
	}
	s.users.Store(&usersRef{u})
}

// maxUserLookups bounds the GetUser calls one member list runs at once.
const maxUserLookups = 8

// fillEmails sets the Email of each member from Users, when set. A user
// Users does not know keeps an empty email (an account deleted behind the
// membership's back); any other failure fails the call.
func (s *Service) fillEmails(ctx context.Context, ms []Member) error {
	ref := s.users.Load()
	if ref == nil || len(ms) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxUserLookups)
	for i := range ms {
		g.Go(func() error {
			u, err := ref.GetUser(gctx, ms[i].UserID)
			switch {
			case errors.Is(err, auth.ErrUserNotFound), errors.Is(err, db.ErrNotFound):
				return nil
			case err != nil:
				return fmt.Errorf("workspaces: look up member %s: %w", ms[i].UserID, err)
			}
			ms[i].Email = u.Email
			return nil
		})
	}
	return g.Wait()
}
