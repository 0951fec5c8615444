package flags

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Flag is a feature flag: whether it is on, for whom, and for which share
// of everyone else.
type Flag struct {
	// Name is the flag's name, filled in by List and by the Service's
	// lists; Set takes the name as its own argument and ignores this field.
	Name string `json:"name"`
	// Enabled turns the flag on. A disabled flag is false for everyone,
	// listed users and workspaces included.
	Enabled bool `json:"enabled"`
	// RolloutPercent (0 to 100) is the share of users (of workspaces, for
	// a call naming no user) the flag is true for, chosen by a stable
	// bucket of their id: 0 is nobody beyond the lists, 100 everybody.
	RolloutPercent int `json:"rollout_percent"`
	// Workspaces are workspace ids the enabled flag is true for, whatever
	// the rollout.
	Workspaces []string `json:"workspaces"`
	// Users are user ids the enabled flag is true for, whatever the
	// rollout.
	Users []string `json:"users"`
	// UpdatedAt is when the flag was last set, filled in by List.
	UpdatedAt time.Time `json:"updated_at"`
}

// For names who a flag is evaluated for. Both fields may be empty: a call
// naming no one is true only for an enabled flag at 100 %.
type For struct {
	UserID      string
	WorkspaceID string
}

// Limits of a flag, checked by Set.
const (
	// MaxNameLen is the longest flag name.
	MaxNameLen = 64
	// MaxTargets is how many users, and how many workspaces, a flag may
	// list.
	MaxTargets = 1000
	// MaxIDLen is the longest user or workspace id a flag may list.
	MaxIDLen = 128
)

// flagError is the type of the package's sentinels: it carries the HTTP
// meaning of the condition for the kernel's error writer.
type flagError struct {
	status int
	code   string
	msg    string
}

func (e *flagError) Error() string     { return e.msg }
func (e *flagError) HTTPStatus() int   { return e.status }
func (e *flagError) ErrorCode() string { return e.code }

var (
	// ErrInvalid is returned for a flag name outside
	// ^[a-z0-9][a-z0-9_.:-]{0,63}$, a rollout outside 0..100, or target
	// lists that are too long or hold empty or too long ids. The error
	// wrapping it says which. HTTP 422 "invalid_flag".
	ErrInvalid error = &flagError{http.StatusUnprocessableEntity, "invalid_flag", "invalid flag"}

	// ErrNotFound is returned by Delete for a flag that does not exist.
	// HTTP 404 "not_found".
	ErrNotFound error = &flagError{http.StatusNotFound, "not_found", "flag not found"}
)

// invalid is an ErrInvalid whose message (shown to clients) says what is
// wrong.
type invalid struct{ msg string }

func (e *invalid) Error() string         { return "flags: " + e.msg + ": invalid flag" }
func (e *invalid) Unwrap() error         { return ErrInvalid }
func (e *invalid) ClientMessage() string { return e.msg }

func invalidf(format string, args ...any) error { return &invalid{msg: fmt.Sprintf(format, args...)} }

// ValidName reports whether name is a valid flag name: 1 to 64 characters
// of a-z, 0-9, '_', '.', ':' and '-', starting with a letter or digit.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !ValidName(name) {
		return invalidf("flag name %q must be 1 to 64 characters of a-z, 0-9, _ . : - starting with a letter or digit", truncate(name))
	}
	return nil
}

// normalize checks f and returns it with sorted, deduplicated target lists
// (never nil) and the given name.
func normalize(name string, f Flag) (Flag, error) {
	if err := checkName(name); err != nil {
		return Flag{}, err
	}
	if f.RolloutPercent < 0 || f.RolloutPercent > 100 {
		return Flag{}, invalidf("rollout_percent is %d: use 0 to 100", f.RolloutPercent)
	}
	var err error
	if f.Users, err = targets("users", f.Users); err != nil {
		return Flag{}, err
	}
	if f.Workspaces, err = targets("workspaces", f.Workspaces); err != nil {
		return Flag{}, err
	}
	f.Name = name
	return f, nil
}

func targets(field string, ids []string) ([]string, error) {
	if len(ids) > MaxTargets {
		return nil, invalidf("%s lists %d ids: at most %d", field, len(ids), MaxTargets)
	}
	out := slices.Clone(ids)
	if out == nil {
		out = []string{}
	}
	for _, id := range out {
		if id == "" || len(id) > MaxIDLen {
			return nil, invalidf("%s must hold ids of 1 to %d characters", field, MaxIDLen)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
