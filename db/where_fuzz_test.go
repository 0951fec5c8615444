package db_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

// FuzzWhereOnEveryDatabase runs every clause the validator accepts, with
// parameters of every type, on SQLite, Postgres and MySQL over the same
// rows. Each database must answer with rows or db.ErrInvalidQuery (never
// a driver error, which a client would see as a 500), and, where the text
// involved is ASCII, all three must answer the same: the same ids, or all
// ErrInvalidQuery. (LOWER and UPPER change only ASCII letters on SQLite.)
//
// The k-th ? of a clause is bound to the k-th of (s, i, f, b, nil), round
// the list. Run it with
//
//	go test -run '^$' -fuzz=FuzzWhereOnEveryDatabase -fuzztime=60s ./db/
func FuzzWhereOnEveryDatabase(f *testing.F) {
	for _, c := range []struct {
		where string
		s     string
		i     int64
		f     float64
		b     bool
	}{
		{"[parent_id] = ?", "abc", 0, 0, false},
		{"[parent_id] = ?", "7abc", 0, 0, false},
		{"[approved] = ?", "abc", 0, 0, false},
		{"LOWER([code]) = ?", "x", 0, 0, false},
		{"LOWER([code]) = ? OR [n] = ?", "x", 0, 0, false},
		{"[token] = 0", "", 0, 0, false},
		{"[a] = 1e999", "", 0, 0, false},
		{"ABS(-9223372036854775808) IS NULL", "", 0, 0, false},
		{"ABS([n]) > ?", "", math.MinInt64, 0, false},
		{"[n] IN (?, ?, ?, ?, ?)", "7", 7, 7, true},
		{"[f] BETWEEN ? AND ?", "-1", 1, 0, false},
		{"[token] LIKE ? OR [code] NOT LIKE ?", "%a%", 0, 0, false},
		{"COALESCE([ghost], [n], ?) = ?", "2", 2, 0, false},
		{"LENGTH([code]) > ? AND [approved]", "1", 0, 0, false},
		{"[n] < [f] OR [approved] = 1", "", 0, 0, false},
		{"[a] = 1 OR [code] = 'it''s'", "", 0, 0, false},
		{"? = 1 OR ? IS NULL", "", 0, 0, false},
		{"[meta] = ? OR [meta] IS NULL", "{}", 0, 0, false},
		{"[code] > ?", "Z", 0, 0, false},
		{"[n] = ?", "", 0, 1e300, false},
		{"[f] = ?", "", math.MaxInt64, 0, false},
	} {
		f.Add(c.where, c.s, c.i, c.f, c.b)
	}
	ctx := context.Background()
	urls := []string{
		dbtest.FreshSQLite(f),
		dbtest.FreshPostgres(f, testenv.PostgresURL(f)),
		dbtest.FreshMySQL(f, testenv.MySQLURL(f)),
	}
	var stores []*db.Store
	for _, u := range urls {
		s, err := db.Open(ctx, u)
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { s.Close() })
		for _, e := range []db.Entity{
			{"id": "e0", "code": "abc", "token": "0", "n": int64(0), "f": 0.0, "approved": false, "meta": map[string]any{"k": "v"}},
			{"id": "e1", "code": "X7", "token": "7abc", "n": int64(7), "f": 7.5, "approved": true, "a": "1"},
			{"id": "e2", "code": "it's", "token": "", "n": int64(math.MinInt64), "f": -1e300, "approved": false},
			{"id": "e3", "code": "Zebra", "token": "abc", "n": int64(math.MaxInt64), "f": -0.5, "approved": true, "a": "x"},
			{"id": "e4"},
		} {
			if _, err := s.SaveEntity(ctx, "fz", e); err != nil {
				f.Fatal(err)
			}
		}
		stores = append(stores, s)
	}
	f.Fuzz(func(t *testing.T, where, s string, i int64, fl float64, b bool) {
		var params []any
		vals := []any{s, i, fl, b, nil}
		for k := range strings.Count(where, "?") {
			params = append(params, vals[k%len(vals)])
		}
		comparable := ascii(where) && ascii(s)
		var first []string
		var firstErr error
		for n, st := range stores {
			got, err := st.FindEntities(ctx, "fz", db.Query{Where: where, Params: params, OrderBy: "[id] ASC"})
			if err != nil && !errors.Is(err, db.ErrInvalidQuery) && !errors.Is(err, db.ErrTypeMismatch) {
				t.Fatalf("%s: %q %v: %v (a driver error: the client would see a 500)", st.Dialect(), where, params, err)
			}
			ids := make([]string, len(got))
			for k, e := range got {
				ids[k] = e["id"].(string)
			}
			if n == 0 {
				first, firstErr = ids, err
				continue
			}
			if comparable && (errors.Is(err, db.ErrInvalidQuery) != errors.Is(firstErr, db.ErrInvalidQuery) || !reflect.DeepEqual(ids, first)) {
				t.Fatalf("%q %v: %s answers %v (%v), %s answers %v (%v)", where, params,
					stores[0].Dialect(), first, firstErr, st.Dialect(), ids, err)
			}
		}
	})
}

// ascii reports whether s is printable ASCII, on which the databases'
// text functions and orders agree.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return utf8.ValidString(s)
}
