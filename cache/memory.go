package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultMaxEntries is the MaxEntries of a Memory cache when none is given.
const DefaultMaxEntries = 10_000

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries held. Setting a new key on a
	// full cache evicts the least recently used entry. Defaults to 10,000
	// (DefaultMaxEntries); zero or negative means the default.
	MaxEntries int
}

// Memory is an in-process Cache with per-entry TTL and a bound on its size,
// evicting the least recently used entry when full. It is what the kernel
// uses when no Redis is configured; it is not shared between processes.
//
// Expired entries are removed when they are next read, or evicted like any
// other entry once they become least recently used, so Memory runs no
// background goroutine and needs no Close.
//
// Values are held JSON-encoded, as in Redis: Get returns a copy, and
// mutating a value after Set does not change what is cached.
type Memory struct {
	flight SingleFlight
	max    int

	mu    sync.Mutex
	items map[string]*memEntry
	// lru is a circular list through a sentinel: lru.next is the most
	// recently used entry, lru.prev the least.
	lru memEntry
}

type memEntry struct {
	key        string
	val        []byte // never mutated once stored, so readers may use it unlocked
	expires    int64  // unix nanoseconds; 0 means no expiry
	prev, next *memEntry
}

// NewMemory returns an empty Memory cache.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	m := &Memory{max: opts.MaxEntries, items: make(map[string]*memEntry)}
	m.lru.next, m.lru.prev = &m.lru, &m.lru
	return m
}

// Get implements Cache.
func (m *Memory) Get(_ context.Context, key string, dst any) (bool, error) {
	now := time.Now().UnixNano()
	m.mu.Lock()
	e, ok := m.items[key]
	if !ok {
		m.mu.Unlock()
		return false, nil
	}
	if e.expires != 0 && now >= e.expires {
		m.remove(e)
		m.mu.Unlock()
		return false, nil
	}
	m.moveToFront(e)
	val := e.val
	m.mu.Unlock()

	if err := json.Unmarshal(val, dst); err != nil {
		return false, fmt.Errorf("cache: decode %q: %w", key, err)
	}
	return true, nil
}

// Set implements Cache.
func (m *Memory) Set(_ context.Context, key string, v any, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	val, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	var expires int64
	if ttl > 0 {
		now := time.Now()
		if expires = now.Add(ttl).UnixNano(); expires <= now.UnixNano() {
			expires = 0 // a ttl past year 2262 overflows: keep it forever
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		e.val, e.expires = val, expires
		m.moveToFront(e)
		return nil
	}
	e := &memEntry{key: key, val: val, expires: expires}
	m.items[key] = e
	m.pushFront(e)
	for len(m.items) > m.max {
		m.remove(m.lru.prev)
	}
	return nil
}

// Delete implements Cache.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	if e, ok := m.items[key]; ok {
		m.remove(e)
	}
	m.mu.Unlock()
	return nil
}

// Len returns the number of entries held, counting expired entries that
// have not been reclaimed yet. It never exceeds MaxEntries.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

func (m *Memory) flightGroup() *singleflight.Group { return m.flight.flightGroup() }

// The list helpers run with m.mu held.

func (m *Memory) pushFront(e *memEntry) {
	e.prev, e.next = &m.lru, m.lru.next
	m.lru.next.prev = e
	m.lru.next = e
}

func (m *Memory) unlink(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (m *Memory) moveToFront(e *memEntry) {
	if m.lru.next == e {
		return
	}
	m.unlink(e)
	m.pushFront(e)
}

func (m *Memory) remove(e *memEntry) {
	m.unlink(e)
	delete(m.items, e.key)
}
