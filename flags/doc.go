// Package flags holds feature flags: stored in the entity store (table
// flags, with history), evaluated in memory, changed without a deploy.
//
// A flag is on or off; when on, it is true for the users and workspaces it
// lists and for a stable share of everyone else (RolloutPercent), chosen
// by Unleash's rule: the bucket murmur3_32(name + ":" + id) % 100 + 1 of
// the user's id (of the workspace's when the call names no user) must be
// at most RolloutPercent. A user in at p % stays in at every larger p.
//
// A Service (the kernel's is Kernel.Flags) keeps every flag in memory, so
// that Enabled costs no I/O. It reloads them when they change: at once
// when Service.Set or Service.Delete of any instance publishes on Redis,
// else within Config.TTL (5 s by default), which is also the bound while
// Redis is down; it subscribes again when Redis returns. The package-level
// Set, Get, List, Delete and Enabled work on a store directly, for scripts
// and tools without a Service.
package flags
