// Package workspaces gives an appkernel service multi-tenant workspaces:
// every user owns a personal workspace, can create more, invite others by
// email with a single-use token, and a workspace's members have one of the
// roles owner, admin or member.
//
// A Service is built with New, initialized once with Init (indexes), and
// mounted with Routes at /workspaces. RequireMember guards an app's own
// workspace-scoped routes: it resolves the workspace of the request, checks
// the caller's membership, and puts the caller's role in the context
// (RoleFrom).
//
// Isolation: a caller who is not a member of a workspace gets 404
// "not_found" for it from every route and every Go function that takes an
// acting user, exactly as for a workspace that does not exist, so ids cannot
// be probed. A member whose role is too low gets 403 "forbidden".
//
// Storage: the tables workspaces, members, invites, invite_redemptions and
// owner_changes of the entity store (appkernel/db). Invite tokens are never
// stored; only their SHA-256 is.
package workspaces
