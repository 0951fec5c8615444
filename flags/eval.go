package flags

// compiled is a flag ready for evaluation: its targets as sets.
type compiled struct {
	enabled    bool
	percent    uint32
	users      map[string]struct{}
	workspaces map[string]struct{}
}

func compile(f Flag) *compiled {
	c := &compiled{enabled: f.Enabled, percent: uint32(max(0, min(100, f.RolloutPercent)))}
	if len(f.Users) > 0 {
		c.users = make(map[string]struct{}, len(f.Users))
		for _, id := range f.Users {
			c.users[id] = struct{}{}
		}
	}
	if len(f.Workspaces) > 0 {
		c.workspaces = make(map[string]struct{}, len(f.Workspaces))
		for _, id := range f.Workspaces {
			c.workspaces[id] = struct{}{}
		}
	}
	return c
}

// evaluate is the targeting rule: disabled is false for everyone; a listed
// user or workspace is true; otherwise the stable bucket of the user (of
// the workspace when no user is named) decides; a call naming no one is
// true only at 100 %.
func (c *compiled) evaluate(name string, f For) bool {
	if c == nil || !c.enabled {
		return false
	}
	if f.UserID != "" {
		if _, ok := c.users[f.UserID]; ok {
			return true
		}
	}
	if f.WorkspaceID != "" {
		if _, ok := c.workspaces[f.WorkspaceID]; ok {
			return true
		}
	}
	switch c.percent {
	case 0:
		return false
	case 100:
		return true
	}
	id := f.UserID
	if id == "" {
		id = f.WorkspaceID
	}
	if id == "" {
		return false
	}
	return bucket(name, id) <= c.percent
}

// snapshot is every flag of the store at one moment, by name. It is never
// changed once built: a refresh builds a new one.
type snapshot struct {
	flags map[string]*compiled
	list  []Flag // sorted by name
}

func newSnapshot(list []Flag) *snapshot {
	s := &snapshot{flags: make(map[string]*compiled, len(list)), list: list}
	for _, f := range list {
		s.flags[f.Name] = compile(f)
	}
	return s
}
