package apikeys

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"appkernel/db"
)

// lastUsedQueue bounds the last-used writes waiting: past it, uses are
// not recorded until the writer catches up (the time is a hint, not an
// audit log).
const lastUsedQueue = 1024

// lastUsed writes keys' last_used_at off the request path: a use is noted
// (an atomic compare per request), at most one per key per interval is
// queued, and one goroutine writes them. Across instances the write is
// conditional: a row whose last_used_at is within interval is left alone.
type lastUsed struct {
	store    *db.Store
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	noted sync.Map // key id → *atomic.Int64, unix nanoseconds of the last queued use
	queue chan use
}

type use struct {
	id string
	at time.Time
}

func newLastUsed(store *db.Store, interval time.Duration, now func() time.Time, log *slog.Logger) *lastUsed {
	return &lastUsed{store: store, interval: interval, now: now, log: log, queue: make(chan use, lastUsedQueue)}
}

// note records a use of key id at now, queueing a write when the key's
// last queued use is interval old.
func (l *lastUsed) note(id string, now time.Time) {
	v, ok := l.noted.Load(id)
	if !ok {
		v, _ = l.noted.LoadOrStore(id, new(atomic.Int64))
	}
	last := v.(*atomic.Int64)
	prev := last.Load()
	if prev != 0 && now.UnixNano()-prev < int64(l.interval) {
		return
	}
	if !last.CompareAndSwap(prev, now.UnixNano()) {
		return // another request of the same key queued it
	}
	select {
	case l.queue <- use{id: id, at: now}:
	default:
		last.Store(prev) // dropped: let a later use try again
	}
}

// run writes queued uses until ctx is done, then writes those still queued.
func (l *lastUsed) run(ctx context.Context) {
	sweep := time.NewTicker(10 * time.Minute)
	defer sweep.Stop()
	for {
		select {
		case u := <-l.queue:
			l.write(ctx, u)
		case <-sweep.C:
			l.sweep()
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case u := <-l.queue:
					l.write(wctx, u)
				default:
					return
				}
			}
		}
	}
}

// write sets last_used_at of u.id to u.at unless the row already has a use
// within the interval (another instance wrote it).
func (l *lastUsed) write(ctx context.Context, u use) {
	at := db.FormatTime(u.at)
	floor := db.FormatTime(u.at.Add(-l.interval + time.Microsecond))
	err := l.store.Tx(ctx, func(tx *db.Store) error {
		e, err := tx.GetEntity(ctx, Table, u.id)
		if err != nil {
			return err
		}
		if last := str(e, "last_used_at"); last != "" && last >= floor {
			return nil
		}
		_, err = tx.SaveEntity(ctx, Table, db.Entity{"id": u.id, "last_used_at": at})
		return err
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		l.log.Warn("apikeys: cannot write a key's last use", "key_id", u.id, "err", err)
	}
}

// sweep forgets keys not used for an interval, bounding the map.
func (l *lastUsed) sweep() {
	cut := l.now().Add(-l.interval).UnixNano()
	l.noted.Range(func(k, v any) bool {
		if v.(*atomic.Int64).Load() < cut {
			l.noted.Delete(k)
		}
		return true
	})
}
