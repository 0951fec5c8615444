package workspaces

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db"
)

// Table names of the package in the entity store.
const (
	tableWorkspaces  = "workspaces"
	tableMembers     = "members"
	tableInvites     = "invites"
	tableRedemptions = "invite_redemptions"
	tableOwnerGuard  = "owner_changes"
)

// DefaultInviteTTL is how long an invite token stays valid unless
// Config.InviteTTL says otherwise.
const DefaultInviteTTL = 7 * 24 * time.Hour

// Config configures a Service.
type Config struct {
	// Store is the entity store holding the workspace tables. Required.
	Store *db.Store
	// Logger receives one line per invite, join and removal. Defaults to a
	// logger that discards.
	Logger *slog.Logger
	// InviteTTL is how long an invite token can be redeemed. Defaults to
	// DefaultInviteTTL (7 days).
	InviteTTL time.Duration
	// Users looks up members' emails for member lists (Members, GET
	// /{id}/members). Optional: without it members are listed without
	// email. The kernel passes its *auth.Service; as auth is built after
	// the Service, it may be set later with SetUsers instead.
	Users Users
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.InviteTTL == 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil {
		return errors.New("workspaces: Config.Store is required: pass the kernel's *db.Store")
	}
	if c.InviteTTL < 0 {
		return fmt.Errorf("workspaces: Config.InviteTTL is %s: use a positive duration or 0 for the default of 7 days", c.InviteTTL)
	}
	return nil
}

// Service holds workspaces, their members and invites. It implements
// auth.WorkspaceHooks. Build it with New and call Init once before use.
type Service struct {
	cfg   Config
	store *db.Store
	log   *slog.Logger
	err   error // configuration error, reported by Init and by every call
	users atomic.Pointer[usersRef]

	extMu      sync.Mutex
	extensions []func(r chi.Router) // see Extend
}

var _ auth.WorkspaceHooks = (*Service)(nil)

// New returns a Service for cfg. A configuration mistake (such as a nil
// Store) is reported by Init, which the caller must call before use.
func New(cfg Config) *Service {
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, store: cfg.Store, log: cfg.Logger, err: cfg.validate()}
	s.SetUsers(cfg.Users)
	return s
}

// Init validates the configuration and declares the tables' indexes (the
// unique ones carry the package's concurrency guarantees) and which tables
// keep no history. It is idempotent; the kernel calls it at start-up.
func (s *Service) Init(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	s.store.DisableHistory(tableInvites, tableRedemptions, tableOwnerGuard)
	// Every column exists before the first request: a schema change inside
	// a transaction would have to wait for the other transactions using
	// the table (MySQL commits on DDL, so the store runs it outside).
	var never time.Time
	columns := []struct {
		table   string
		example db.Entity
	}{
		{tableWorkspaces, db.Entity{"name": "", "owner_id": "", "personal": false}},
		{tableMembers, db.Entity{"workspace_id": "", "user_id": "", "role": ""}},
		{tableInvites, db.Entity{"workspace_id": "", "email": "", "role": "", "token_hash": "", "invited_by": "",
			"expires_at": never, "used_at": never, "used_by": "", "revoked_at": never, "revoked_by": ""}},
		{tableRedemptions, db.Entity{"invite_id": "", "user_id": "", "revoked_by": ""}},
		{tableOwnerGuard, db.Entity{"workspace_id": "", "seq": "", "user_id": "", "removed_by": ""}},
	}
	for _, c := range columns {
		if err := s.store.EnsureColumns(ctx, c.table, c.example); err != nil {
			return fmt.Errorf("workspaces: columns of %s: %w", c.table, err)
		}
	}
	indexes := []struct {
		table  string
		cols   []string
		unique bool
	}{
		{tableMembers, []string{"workspace_id", "user_id"}, true},
		{tableMembers, []string{"user_id"}, false},
		{tableInvites, []string{"token_hash"}, true},
		{tableInvites, []string{"workspace_id"}, false},
		{tableRedemptions, []string{"invite_id"}, true},
		{tableOwnerGuard, []string{"workspace_id", "seq"}, true},
	}
	for _, ix := range indexes {
		if err := s.store.EnsureIndex(ctx, ix.table, ix.cols, ix.unique); err != nil {
			return fmt.Errorf("workspaces: index on %s%v: %w", ix.table, ix.cols, err)
		}
	}
	return nil
}
