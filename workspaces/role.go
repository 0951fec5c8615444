package workspaces

// Roles a member can hold in a workspace, from most to least privileged.
const (
	RoleOwner  = "owner"  // full control; a workspace always keeps at least one.
	RoleAdmin  = "admin"  // invites and removes members and admins.
	RoleMember = "member" // reads the workspace; may leave it.
)

// roleRank orders roles; 0 means "not a role".
func roleRank(role string) int {
	switch role {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// ValidRole reports whether role is one of RoleOwner, RoleAdmin, RoleMember.
func ValidRole(role string) bool { return roleRank(role) > 0 }

// AtLeast reports whether role grants at least the privileges of min.
// Unknown roles grant nothing.
func AtLeast(role, min string) bool {
	r := roleRank(role)
	return r > 0 && r >= roleRank(min)
}
