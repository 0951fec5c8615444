package admin

import (
	"context"
	"fmt"
	"time"

	"appkernel/db"
	"appkernel/internal/ttlcache"
)

// CheckQuota reports whether a workspace of app has used less than limit
// of metric in the current month (UTC), read from the aggregates (no scan
// of raw events). The aggregates trail the requests by the admin worker's
// flush interval, so a quota can be overrun by what a workspace does
// within it. CheckQuota reads the database on every call; a hot path
// should use a Quotas, which caches the figure briefly.
func CheckQuota(ctx context.Context, adminDB *db.Store, app, workspaceID, metric string, limit int64) (bool, error) {
	used, err := usedInPeriod(ctx, adminDB, app, workspaceID, metric, MonthPeriod(time.Now()))
	if err != nil {
		return false, err
	}
	return used < limit, nil
}

// DefaultQuotaTTL is how long a Quotas keeps a figure by default.
const DefaultQuotaTTL = 5 * time.Second

// maxQuotaEntries bounds a Quotas' cache; past it, expired figures go and,
// if that is not enough, all of them.
const maxQuotaEntries = 10000

// Quotas answers CheckQuota from a short-lived in-process cache of the
// month's figures, one per app, workspace and metric, so that checking a
// quota on every request costs a database read per TTL, not per request.
// Each instance caches its own figures: a workspace can overrun a limit by
// what it does within the TTL (plus the worker's flush interval). Build it
// with NewQuotas; it is safe for concurrent use.
type Quotas struct {
	db    *db.Store
	now   func() time.Time
	cache *ttlcache.Cache[int64] // by app, workspace, metric and period
}

// NewQuotas returns a Quotas reading adminDB and keeping figures for ttl
// (DefaultQuotaTTL when ttl is 0 or less).
func NewQuotas(adminDB *db.Store, ttl time.Duration) *Quotas {
	if ttl <= 0 {
		ttl = DefaultQuotaTTL
	}
	return &Quotas{db: adminDB, now: time.Now, cache: ttlcache.New[int64](ttl, time.Now, maxQuotaEntries)}
}

// Check is CheckQuota answered from the cache while the figure is fresh.
func (q *Quotas) Check(ctx context.Context, app, workspaceID, metric string, limit int64) (bool, error) {
	used, err := q.Used(ctx, app, workspaceID, metric)
	if err != nil {
		return false, err
	}
	return used < limit, nil
}

// Used returns how much of metric a workspace of app used this month (UTC),
// from the cache while the figure is fresh.
func (q *Quotas) Used(ctx context.Context, app, workspaceID, metric string) (int64, error) {
	period := MonthPeriod(q.now())
	key := app + "\x00" + workspaceID + "\x00" + metric + "\x00" + period
	used, err := q.cache.Get(ctx, key, func(ctx context.Context) (int64, error) {
		return usedInPeriod(ctx, q.db, app, workspaceID, metric, period)
	})
	if err != nil {
		return 0, fmt.Errorf("admin: quota: %w", err)
	}
	return used, nil
}
