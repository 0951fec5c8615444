package dbtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"appkernel/db"
)

// Two processes creating "Notes" and "notes" at the same moment end with one
// table: the loser's saves are ErrInvalidName, never rows in a second table.
func testTableNameCaseRace(t *testing.T, b *bundle) {
	stores := []*db.Store{b.store, b.open(t)}
	for round := range 5 {
		names := []string{fmt.Sprintf("Race%d", round), fmt.Sprintf("race%d", round)}
		saved := raceNames(t, stores, names, func(s *db.Store, name string) error {
			_, err := s.SaveEntity(b.ctx, name, db.Entity{"by": name})
			return err
		})
		if len(saved) != 1 {
			t.Fatalf("round %d: saves succeeded into %v, want exactly one of %v", round, saved, names)
		}
		for name, n := range saved {
			if got := b.count(t, name, ""); got != int64(n) {
				t.Errorf("round %d: %s holds %d rows, want the %d saved", round, name, got, n)
			}
		}
	}
}

// Two processes adding the fields "Title" and "title" to one table at the
// same moment end with one column: the loser's saves are ErrInvalidName.
func testFieldNameCaseRace(t *testing.T, b *bundle) {
	stores := []*db.Store{b.store, b.open(t)}
	b.save(t, "fieldrace", db.Entity{"n": int64(0)})
	for _, s := range stores {
		if _, err := s.CountEntities(b.ctx, "fieldrace", ""); err != nil { // both know the table
			t.Fatal(err)
		}
	}
	for round := range 5 {
		names := []string{fmt.Sprintf("Title%d", round), fmt.Sprintf("title%d", round)}
		saved := raceNames(t, stores, names, func(s *db.Store, name string) error {
			if name[0] == 'T' && round%2 == 1 {
				// In odd rounds one of the names comes in transactions.
				return s.Tx(b.ctx, func(tx *db.Store) error {
					_, err := tx.SaveEntity(b.ctx, "fieldrace", db.Entity{name: "x"})
					return err
				})
			}
			_, err := s.SaveEntity(b.ctx, "fieldrace", db.Entity{name: "x"})
			return err
		})
		if len(saved) != 1 {
			t.Fatalf("round %d: saves of fields %v succeeded, want exactly one of %v", round, saved, names)
		}
	}
}

// raceNames runs save for each of the two names from four goroutines at
// once, spread over stores, and counts the successes per name. An error
// other than ErrInvalidName fails the test.
func raceNames(t *testing.T, stores []*db.Store, names []string, save func(*db.Store, string) error) map[string]int {
	const each = 4
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		saved = map[string]int{}
	)
	for i := range len(names) * each {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := names[i%len(names)]
			<-start
			switch err := save(stores[i/len(names)%len(stores)], name); {
			case err == nil:
				mu.Lock()
				saved[name]++
				mu.Unlock()
			case !errors.Is(err, db.ErrInvalidName):
				t.Errorf("%s: %v, want success or ErrInvalidName", name, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return saved
}
