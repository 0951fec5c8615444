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
// Invites: an invite speaks for the member who made it, so it is redeemed
// only while that member still belongs to the workspace with a role at
// least the invite's (owner > admin > member); removing a member (or a
// member leaving) also revokes their open invites. An admin who is removed
// cannot come back through invites they sent to addresses they control.
// Redeem a token with POST /workspaces/join and the body {"token": "..."}
// (bodies stay out of access logs); POST /workspaces/join/{token} works too.
// Owners and admins list the open invites of a workspace (ListInvites;
// tokens are never shown again) and revoke them (RevokeInvite).
//
// Concurrency guarantees, on SQLite, Postgres and MySQL/MariaDB alike (the
// store offers no SELECT ... FOR UPDATE, so both rest on unique indexes,
// whose checks see other transactions' rows at every isolation level):
//
//   - An invite token is redeemed at most once: redeeming inserts a row
//     keyed by the invite id into invite_redemptions (unique) in the same
//     transaction as the membership; of simultaneous joins one commits and
//     the others fail with ErrInvalidInvite. RevokeInvite claims the same
//     row, so of a revocation and a redemption racing, exactly one wins. A
//     user is a member of a workspace at most once (unique index on
//     members). A join racing with the removal of its inviter may still
//     commit: it read the inviter as a member, and is ordered before the
//     removal.
//   - A workspace never loses its last owner through RemoveMember: each
//     owner removal claims the next sequence number of the workspace in
//     owner_changes (unique) after counting owners, so two removals that
//     counted the same owners cannot both commit; the loser retries with a
//     fresh count. On SQLite the store's single writer connection already
//     serializes the transactions; on Postgres (READ COMMITTED) and MySQL
//     (REPEATABLE READ, where a stale snapshot could otherwise count a
//     removed owner) the unique index decides. Rows changed behind the
//     package's back (DeleteEntity on members) are outside the guarantee.
//
// Storage: the tables workspaces, members, invites, invite_redemptions and
// owner_changes of the entity store (appkernel/db). Invite tokens are never
// stored; only their SHA-256 is.
package workspaces
