package apikeys

import "time"

// cacheLimit bounds the cached keys (found or not).
const cacheLimit = 100_000

// record is what verification needs of a stored key; id "" means no key
// has the hash.
type record struct {
	id, userID, workspaceID string
	scopes                  []string
	expires                 time.Time // zero: never
	revoked                 bool
}
