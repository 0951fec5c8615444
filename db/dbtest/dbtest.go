package dbtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel/db"
)

// Exercise runs the store's conformance suite. freshURL must return the
// URL of an empty database (or schema) of its own for each call; every
// case opens its stores on such a URL, so cases run in parallel without
// seeing each other.
func Exercise(t *testing.T, freshURL func(t *testing.T) string) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"RoundTripTypes", testRoundTripTypes},
		{"AutoFields", testAutoFields},
		{"UpdateMerges", testUpdateMerges},
		{"MissingTableAndRow", testMissing},
		{"MissingColumnReadsNull", testMissingColumn},
		{"WhereGrammar", testWhereGrammar},
		{"InvalidQueries", testInvalidQueries},
		{"InvalidNames", testInvalidNames},
		{"OrderAndPagination", testOrderPagination},
		{"SoftDeleteAndRestore", testSoftDelete},
		{"PermanentDelete", testPermanentDelete},
		{"History", testHistory},
		{"HistoryDisabled", testHistoryDisabled},
		{"TypeMismatch", testTypeMismatch},
		{"UniqueIndex", testUniqueIndex},
		{"UniqueIndexInTx", testUniqueIndexInTx},
		{"ConflictNamesFields", testConflictNamesFields},
		{"TxCommit", testTxCommit},
		{"TxConcurrentNewIDs", testTxConcurrentNewIDs},
		{"TxRollback", testTxRollback},
		{"TxPanic", testTxPanic},
		{"Observers", testObservers},
		{"ObserversAndTx", testObserversTx},
		{"ObserversSkipNoHistory", testObserversNoHistory},
		{"TypedHelpers", testTyped},
		{"SchemaCacheWarm", testSchemaCache},
		{"TwoStoresSameSchema", testTwoStores},
		{"PreparedStatementsSeeNewColumns", testPreparedNewColumns},
		{"TxSeesOtherStoresNewColumns", testTxNewColumns},
		{"TrailingSpacesMatter", testTrailingSpaces},
		{"WhereTextIsNeverAnOrder", testWhereNotOrder},
		{"NonFiniteFloatsAreRefused", testNonFinite},
		{"ParamsTakeTheirColumnsType", testParamTypes},
		{"JunkNeverMatches", testJunkNeverMatches},
		{"LikeEscapesWithBackslash", testLikeEscape},
		{"IDsAreAtMost255Bytes", testLongIDs},
		{"TableNamesDifferingInCaseNeverMix", testTableNameCase},
		{"TableNamesDifferingInCaseRace", testTableNameCaseRace},
		{"FieldNamesDifferingInCaseRace", testFieldNameCaseRace},
		{"ConcurrentSaves", testConcurrentSaves},
		{"ColumnLimit", testColumnLimit},
		{"ColumnLimitRace", testColumnLimitRace},
		{"HistoryNameLength", testHistoryNameLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, setup(t, freshURL(t)))
		})
	}
}

// bundle is what a case works with.
type bundle struct {
	ctx   context.Context
	url   string
	store *db.Store
}

func setup(t *testing.T, url string) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), url: url}
	b.store = b.open(t)
	return b
}

// open opens another store on the same database.
func (b *bundle) open(t *testing.T) *db.Store {
	t.Helper()
	s, err := db.Open(b.ctx, b.url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (b *bundle) save(t *testing.T, table string, e db.Entity) db.Entity {
	t.Helper()
	out, err := b.store.SaveEntity(b.ctx, table, e)
	if err != nil {
		t.Fatalf("SaveEntity(%s): %v", table, err)
	}
	return out
}

func (b *bundle) get(t *testing.T, table, id string, opts ...db.GetOption) db.Entity {
	t.Helper()
	out, err := b.store.GetEntity(b.ctx, table, id, opts...)
	if err != nil {
		t.Fatalf("GetEntity(%s, %s): %v", table, id, err)
	}
	return out
}

func (b *bundle) find(t *testing.T, table string, q db.Query) []db.Entity {
	t.Helper()
	out, err := b.store.FindEntities(b.ctx, table, q)
	if err != nil {
		t.Fatalf("FindEntities(%s, %+v): %v", table, q, err)
	}
	return out
}

func (b *bundle) count(t *testing.T, table, where string, params ...any) int64 {
	t.Helper()
	n, err := b.store.CountEntities(b.ctx, table, where, params...)
	if err != nil {
		t.Fatalf("CountEntities(%s, %q): %v", table, where, err)
	}
	return n
}

func ids(es []db.Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e["id"].(string)
	}
	return out
}

func wantErr(t *testing.T, err, target error, context string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one matching %v", context, err, target)
	}
}

var tsPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func testRoundTripTypes(t *testing.T, b *bundle) {
	big := strings.Repeat("0123456789abcdéf", 1<<16) // 1 MiB + unicode
	when := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.FixedZone("X", 3600))
	in := db.Entity{
		"s":       "héllo wörld ✓ 日本語 🎉",
		"empty":   "",
		"large":   big,
		"i":       int64(math.MaxInt64),
		"neg":     int64(math.MinInt64),
		"small":   7, // int becomes int64
		"f":       0.1,
		"pi":      math.Pi,
		"tiny":    5e-324,
		"huge":    math.MaxFloat64,
		"t":       true,
		"false":   false,
		"null":    nil,
		"obj":     map[string]any{"a": "b", "n": 1.5, "nested": map[string]any{"list": []any{"x", 2.0, true, nil}}},
		"arr":     []any{"one", 2.0, map[string]any{"three": 3.0}},
		"when":    when,
		"quote":   `it's "quoted" \ back\slash ' ; -- not a comment`,
		"newline": "a\nb\tc\r\nd",
	}
	saved := b.save(t, "roundtrip", in)
	want := db.Entity{
		"s": in["s"], "empty": "", "large": big, "i": int64(math.MaxInt64), "neg": int64(math.MinInt64),
		"small": int64(7), "f": 0.1, "pi": math.Pi, "tiny": 5e-324, "huge": math.MaxFloat64,
		"t": true, "false": false, "null": nil, "obj": in["obj"], "arr": in["arr"],
		"when": "2026-01-02T14:04:05.123456Z", "quote": in["quote"], "newline": in["newline"],
	}
	id := saved["id"].(string)
	check := func(where string, got db.Entity) {
		t.Helper()
		for k, w := range want {
			g, ok := got[k]
			if !ok && w != nil { // a field only ever nil has no column
				t.Errorf("%s: field %q missing", where, k)
				continue
			}
			if !reflect.DeepEqual(g, w) {
				gs, ws := fmt.Sprintf("%#v", g), fmt.Sprintf("%#v", w)
				if len(gs) > 200 {
					gs, ws = gs[:200]+"...", ws[:200]+"..."
				}
				t.Errorf("%s: field %q = %s (%T), want %s (%T)", where, k, gs, g, ws, w)
			}
		}
	}
	check("SaveEntity", saved)
	check("GetEntity", b.get(t, "roundtrip", id))
	found := b.find(t, "roundtrip", db.Query{Where: "[id] = ?", Params: []any{id}})
	if len(found) != 1 {
		t.Fatalf("FindEntities by id: %d entities, want 1", len(found))
	}
	check("FindEntities", found[0])
	// A second store (cold cache) reads the same types.
	other, err := b.open(t).GetEntity(b.ctx, "roundtrip", id)
	if err != nil {
		t.Fatal(err)
	}
	check("GetEntity on a second store", other)
}

func testAutoFields(t *testing.T, b *bundle) {
	e := b.save(t, "auto", db.Entity{"name": "x"})
	id, _ := e["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("id %q is not a UUIDv7", id)
	}
	for _, f := range []string{"created_at", "updated_at"} {
		if s, _ := e[f].(string); !tsPattern.MatchString(s) {
			t.Errorf("%s = %#v, want a fixed-width UTC timestamp", f, e[f])
		}
	}
	if e["deleted_at"] != nil {
		t.Errorf("deleted_at = %#v, want nil", e["deleted_at"])
	}
	time.Sleep(2 * time.Millisecond)
	u := b.save(t, "auto", db.Entity{"id": id, "name": "y", "created_at": "1999-01-01T00:00:00.000000Z"})
	if u["created_at"] != e["created_at"] {
		t.Errorf("created_at changed on update: %v -> %v", e["created_at"], u["created_at"])
	}
	if u["updated_at"].(string) <= e["updated_at"].(string) {
		t.Errorf("updated_at did not move forward: %v -> %v", e["updated_at"], u["updated_at"])
	}
	// A caller-chosen id is kept.
	c := b.save(t, "auto", db.Entity{"id": "my-own-id", "name": "z"})
	if c["id"] != "my-own-id" || b.get(t, "auto", "my-own-id")["name"] != "z" {
		t.Errorf("caller id not kept: %v", c)
	}
}

func testUpdateMerges(t *testing.T, b *bundle) {
	e := b.save(t, "merge", db.Entity{"a": "1", "b": int64(2)})
	u := b.save(t, "merge", db.Entity{"id": e["id"], "b": int64(3), "c": true})
	got := b.get(t, "merge", e["id"].(string))
	for _, g := range []db.Entity{u, got} {
		if g["a"] != "1" || g["b"] != int64(3) || g["c"] != true {
			t.Errorf("after update: %v, want a=1 b=3 c=true", g)
		}
	}
	if n := b.count(t, "merge", ""); n != 1 {
		t.Errorf("update created a row: count %d", n)
	}
	// Setting a field to nil clears it.
	b.save(t, "merge", db.Entity{"id": e["id"], "a": nil})
	if got := b.get(t, "merge", e["id"].(string)); got["a"] != nil {
		t.Errorf("a = %v after saving nil, want nil", got["a"])
	}
}

func testMissing(t *testing.T, b *bundle) {
	_, err := b.store.GetEntity(b.ctx, "nosuchtable", "x")
	wantErr(t, err, db.ErrNotFound, "GetEntity on a missing table")
	if es := b.find(t, "nosuchtable", db.Query{Where: "[a] = ?", Params: []any{1}}); len(es) != 0 || es == nil {
		t.Errorf("FindEntities on a missing table = %#v, want empty non-nil", es)
	}
	if n := b.count(t, "nosuchtable", ""); n != 0 {
		t.Errorf("CountEntities on a missing table = %d", n)
	}
	if ok, err := b.store.DeleteEntity(b.ctx, "nosuchtable", "x", false); ok || err != nil {
		t.Errorf("DeleteEntity on a missing table = %v, %v", ok, err)
	}
	if h, err := b.store.History(b.ctx, "nosuchtable", "x"); err != nil || len(h) != 0 {
		t.Errorf("History on a missing table = %v, %v", h, err)
	}
	b.save(t, "present", db.Entity{"a": 1})
	_, err = b.store.GetEntity(b.ctx, "present", "nope")
	wantErr(t, err, db.ErrNotFound, "GetEntity of a missing id")
	var sc interface{ HTTPStatus() int }
	if !errors.As(err, &sc) || sc.HTTPStatus() != 404 {
		t.Errorf("ErrNotFound does not carry HTTP 404: %v", err)
	}
	if !strings.Contains(err.Error(), "present") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("error %q does not name table and id", err)
	}
}

func testMissingColumn(t *testing.T, b *bundle) {
	b.save(t, "mcol", db.Entity{"a": "x"})
	b.save(t, "mcol", db.Entity{"a": "y"})
	if n := len(b.find(t, "mcol", db.Query{Where: "[ghost] IS NULL"})); n != 2 {
		t.Errorf("[ghost] IS NULL matched %d, want 2", n)
	}
	if n := len(b.find(t, "mcol", db.Query{Where: "[ghost] = ?", Params: []any{"x"}})); n != 0 {
		t.Errorf("[ghost] = ? matched %d, want 0", n)
	}
	if n := b.count(t, "mcol", "[ghost] IS NOT NULL OR [a] = ?", "y"); n != 1 {
		t.Errorf("count = %d, want 1", n)
	}
	if n := len(b.find(t, "mcol", db.Query{OrderBy: "[ghost] DESC"})); n != 2 {
		t.Errorf("order by a missing column returned %d, want 2", n)
	}
}

func testWhereGrammar(t *testing.T, b *bundle) {
	tb := "grammar"
	for i, name := range []string{"alpha", "Beta", "gamma", "delta", "it's?"} {
		b.save(t, tb, db.Entity{"id": fmt.Sprintf("g%d", i), "name": name, "n": int64(i), "score": float64(i) / 2, "on": i%2 == 0})
	}
	cases := []struct {
		where  string
		params []any
		want   []string
	}{
		{"[n] = ?", []any{2}, []string{"g2"}},
		{"[n] != ?", []any{2}, []string{"g0", "g1", "g3", "g4"}},
		{"[n] <> 2 AND [n] >= 3", nil, []string{"g3", "g4"}},
		{"[n] IN (?, ?, 4)", []any{0, 1}, []string{"g0", "g1", "g4"}},
		{"[n] NOT IN (0, 1)", nil, []string{"g2", "g3", "g4"}},
		{"[name] LIKE ?", []any{"%a"}, []string{"g0", "g1", "g2", "g3"}},
		{"[name] LIKE 'B%'", nil, []string{"g1"}},
		{"[name] LIKE 'b%'", nil, []string{}}, // case-sensitive everywhere
		{"[name] = 'beta'", nil, []string{}},  // no case-insensitive collation
		{"[name] IN ('BETA', 'Beta')", nil, []string{"g1"}},
		{"[name] NOT LIKE '%a%'", nil, []string{"g4"}},
		{"[n] BETWEEN ? AND ?", []any{1, 3}, []string{"g1", "g2", "g3"}},
		{"[n] NOT BETWEEN 1 AND 3", nil, []string{"g0", "g4"}},
		{"[score] > 1.2", nil, []string{"g3", "g4"}},
		{"[n] > -1 AND [n] < 1", nil, []string{"g0"}},
		{"NOT ([n] = 1 OR [n] = 2)", nil, []string{"g0", "g3", "g4"}},
		{"([n] = 1 OR [n] = 2) AND [on] = ?", []any{true}, []string{"g2"}},
		{"[on] = TRUE", nil, []string{"g0", "g2", "g4"}},
		{"LOWER([name]) = ?", []any{"beta"}, []string{"g1"}},
		{"UPPER([name]) = 'GAMMA'", nil, []string{"g2"}},
		{"LENGTH([name]) = 5 AND [n] < 4", nil, []string{"g0", "g2", "g3"}},
		{"COALESCE([ghost], [name]) = 'delta'", nil, []string{"g3"}},
		{"[name] = 'it''s?'", nil, []string{"g4"}},
		{"[name] = 'it''s?' OR [n] = ?", []any{0}, []string{"g0", "g4"}},
		{"[deleted_at] IS NULL and [n] = 1", nil, []string{"g1"}},
		{"", nil, []string{"g0", "g1", "g2", "g3", "g4"}},
	}
	for _, c := range cases {
		got := ids(b.find(t, tb, db.Query{Where: c.where, Params: c.params, OrderBy: "[id] ASC"}))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Where %q %v: got %v, want %v", c.where, c.params, got, c.want)
		}
		if n := b.count(t, tb, c.where, c.params...); n != int64(len(c.want)) {
			t.Errorf("Count %q: %d, want %d", c.where, n, len(c.want))
		}
	}
	// The caller's OR cannot escape the store's soft-delete condition.
	if _, err := b.store.DeleteEntity(b.ctx, tb, "g0", false); err != nil {
		t.Fatal(err)
	}
	got := ids(b.find(t, tb, db.Query{Where: "[n] = ? OR 1 = 1", Params: []any{9}, OrderBy: "[id]"}))
	if !reflect.DeepEqual(got, []string{"g1", "g2", "g3", "g4"}) {
		t.Errorf("OR 1 = 1 revealed soft-deleted entities: %v", got)
	}
}

func testInvalidQueries(t *testing.T, b *bundle) {
	b.save(t, "invq", db.Entity{"a": "x"})
	bad := []string{
		"[a] = 'x'; DROP TABLE invq",
		"[a] = 'x' -- comment",
		"[a] = 'x' /* comment */",
		"a = 'x'",
		"[a] = (SELECT 1)",
		"[a] IN (SELECT [a] FROM invq)",
		"EXISTS (SELECT 1)",
		"[a] = 'x' UNION SELECT 1",
		"[a] = \"x\"",
		"SLEEP(5) = 0",
		"[a] = 'unterminated",
		"[a b] = 1",
		"[a] = ",
		"([a] = 1",
		"[a] = 1)",
		"[a] = 0x41",
		"[a] = 1 2",
		"[a] IS 5",
		"[a] = ? ? ",
		"[a] = `x`",
		"[a] = 'x' OR",
		"pg_sleep(1) IS NULL",
		strings.Repeat("(", 100) + "[a] = 1" + strings.Repeat(")", 100),
	}
	for _, w := range bad {
		_, err := b.store.FindEntities(b.ctx, "invq", db.Query{Where: w, Params: []any{1}})
		wantErr(t, err, db.ErrInvalidQuery, fmt.Sprintf("Where %q", w))
		var qe *db.QueryError
		if strings.Count(w, "?") == 0 && !errors.As(err, &qe) {
			t.Errorf("Where %q: error %v is not a *QueryError naming the token", w, err)
		}
		// Rejected on a missing table too.
		_, err = b.store.FindEntities(b.ctx, "invq_missing", db.Query{Where: w, Params: []any{1}})
		wantErr(t, err, db.ErrInvalidQuery, fmt.Sprintf("Where %q on a missing table", w))
	}
	_, err := b.store.FindEntities(b.ctx, "invq", db.Query{Where: "[a] = ? AND [b] = ?", Params: []any{1}})
	wantErr(t, err, db.ErrInvalidQuery, "too few params")
	_, err = b.store.CountEntities(b.ctx, "invq", "[a] = ?")
	wantErr(t, err, db.ErrInvalidQuery, "count with too few params")
	_, err = b.store.FindEntities(b.ctx, "invq", db.Query{Where: "[a] = 'what?'", Params: []any{1}})
	wantErr(t, err, db.ErrInvalidQuery, "a ? inside a literal is no placeholder")
	for _, o := range []string{"a", "[a] SIDEWAYS", "[a]; DROP TABLE invq", "[a] ASC, ", "LOWER([a])", "[a] ASC NULLS FIRST"} {
		_, err := b.store.FindEntities(b.ctx, "invq", db.Query{OrderBy: o})
		wantErr(t, err, db.ErrInvalidQuery, fmt.Sprintf("OrderBy %q", o))
	}
	for _, q := range []db.Query{{Limit: -1}, {Offset: -1}, {Limit: 1 << 30}} {
		_, err := b.store.FindEntities(b.ctx, "invq", q)
		wantErr(t, err, db.ErrInvalidQuery, fmt.Sprintf("%+v", q))
	}
	// Text that is not UTF-8 or holds NUL (PostgreSQL's text cannot): a
	// get finds nothing, a query runs or is the caller's error.
	for _, bad := range []string{"a\x00b", "\xff", "caf\xc3"} {
		_, err := b.store.GetEntity(b.ctx, "invq", bad)
		wantErr(t, err, db.ErrNotFound, fmt.Sprintf("get id %q", bad))
		if _, err := b.store.CountEntities(b.ctx, "invq", "[a] = ?", bad); err != nil && !errors.Is(err, db.ErrInvalidQuery) {
			t.Errorf("count with %q: %v, want a result or ErrInvalidQuery", bad, err)
		}
	}
	// Clauses in the grammar that do not type (a ? compared with no
	// column, lower() of a number, a function given the wrong number of
	// arguments) are the caller's error on every database, never a
	// database fault; Postgres used to refuse them while the others ran.
	b.save(t, "invq_typed", db.Entity{"n": 2})
	for _, w := range []struct {
		where  string
		params []any
	}{
		{"? IS NULL", []any{nil}}, {"? IS NULL OR [n] = ?", []any{"x", 2}}, {"lower([n]) = ?", []any{"2"}}, {"? = ?", []any{1, 1}},
		{"LOWER([n], [n]) = ?", []any{"2"}}, {"COALESCE([n]) = ?", []any{2}},
	} {
		_, err := b.store.CountEntities(b.ctx, "invq_typed", w.where, w.params...)
		wantErr(t, err, db.ErrInvalidQuery, fmt.Sprintf("Where %q", w.where))
	}
	var qe *db.QueryError
	_, err = b.store.FindEntities(b.ctx, "invq", db.Query{Where: "[a] = 1; DELETE"})
	if !errors.As(err, &qe) || qe.Token != ";" || qe.Pos != 7 {
		t.Errorf("QueryError = %#v, want token \";\" at 7", qe)
	}
	// Values are bound, never spliced: injection through a param finds nothing.
	for _, p := range []string{"x' OR '1'='1", "x\\' OR 1=1 -- ", "x'); DROP TABLE invq; --"} {
		if got := b.find(t, "invq", db.Query{Where: "[a] = ?", Params: []any{p}}); len(got) != 0 {
			t.Errorf("param %q matched %d entities", p, len(got))
		}
		if got := b.find(t, "invq", db.Query{Where: "[a] = '" + strings.ReplaceAll(p, "'", "''") + "'"}); len(got) != 0 {
			t.Errorf("literal %q matched %d entities", p, len(got))
		}
	}
	if n := b.count(t, "invq", ""); n != 1 {
		t.Errorf("table changed: count %d", n)
	}
}

func testInvalidNames(t *testing.T, b *bundle) {
	for _, tb := range []string{"", "1abc", "bad-name", "a b", `x"; DROP TABLE y; --`, strings.Repeat("a", 64), "ünï"} {
		_, err := b.store.SaveEntity(b.ctx, tb, db.Entity{"a": 1})
		wantErr(t, err, db.ErrInvalidName, fmt.Sprintf("table %q", tb))
		_, err = b.store.GetEntity(b.ctx, tb, "x")
		wantErr(t, err, db.ErrInvalidName, fmt.Sprintf("get table %q", tb))
		_, err = b.store.FindEntities(b.ctx, tb, db.Query{})
		wantErr(t, err, db.ErrInvalidName, fmt.Sprintf("find table %q", tb))
	}
	for _, f := range []string{"bad-field", "a b", "", "x`y"} {
		_, err := b.store.SaveEntity(b.ctx, "names", db.Entity{f: 1})
		wantErr(t, err, db.ErrInvalidName, fmt.Sprintf("field %q", f))
	}
	b.save(t, "names", db.Entity{"email": "a"})
	_, err := b.store.SaveEntity(b.ctx, "names", db.Entity{"Email": "b"})
	wantErr(t, err, db.ErrInvalidName, "field differing only in case")
	// Two new fields of one entity differing only in case: neither is added.
	for _, table := range []string{"names", "names_new"} {
		_, err = b.store.SaveEntity(b.ctx, table, db.Entity{"Title": "a", "title": "b"})
		wantErr(t, err, db.ErrInvalidName, "two new fields differing only in case, table "+table)
		if _, err := b.store.FindEntities(b.ctx, table, db.Query{Where: "[Title] IS NOT NULL OR [title] IS NOT NULL"}); err != nil {
			t.Errorf("%s: %v", table, err)
		}
		e := b.save(t, table, db.Entity{"title": "c"})
		if got := b.get(t, table, e["id"].(string)); got["title"] != "c" {
			t.Errorf("%s: after the refused save, title reads %v", table, got["title"])
		}
	}
	if err := b.store.EnsureIndex(b.ctx, "names", []string{"bad name"}, false); !errors.Is(err, db.ErrInvalidName) {
		t.Errorf("EnsureIndex with a bad column: %v", err)
	}
}

func testOrderPagination(t *testing.T, b *bundle) {
	var want []string
	for i := 0; i < 25; i++ {
		e := b.save(t, "pages", db.Entity{"i": int64(i), "bucket": int64(i % 3)})
		want = append(want, e["id"].(string))
	}
	if got := ids(b.find(t, "pages", db.Query{})); !reflect.DeepEqual(got, want) {
		t.Errorf("default order is not insertion order:\n got %v\nwant %v", got, want)
	}
	if got := ids(b.find(t, "pages", db.Query{OrderBy: "[created_at] ASC"})); !reflect.DeepEqual(got, want) {
		t.Errorf("created_at order is not insertion order")
	}
	var paged []string
	for off := 0; off < 30; off += 10 {
		page := b.find(t, "pages", db.Query{OrderBy: "[created_at]", Limit: 10, Offset: off})
		paged = append(paged, ids(page)...)
	}
	if !reflect.DeepEqual(paged, want) {
		t.Errorf("pages do not add up to the whole:\n got %v\nwant %v", paged, want)
	}
	got := b.find(t, "pages", db.Query{OrderBy: "[i] DESC", Limit: 3})
	if len(got) != 3 || got[0]["i"] != int64(24) || got[2]["i"] != int64(22) {
		t.Errorf("DESC page = %v", got)
	}
	got = b.find(t, "pages", db.Query{OrderBy: "[bucket] DESC, [i] ASC", Limit: 2, Offset: 1})
	if len(got) != 2 || got[0]["i"] != int64(5) || got[1]["i"] != int64(8) {
		t.Errorf("multi-column order page = %v", got)
	}
	if got := b.find(t, "pages", db.Query{Offset: 24}); len(got) != 1 || got[0]["id"] != want[24] {
		t.Errorf("offset without limit = %v", ids(got))
	}
}

func testSoftDelete(t *testing.T, b *bundle) {
	e := b.save(t, "soft", db.Entity{"name": "x"})
	keep := b.save(t, "soft", db.Entity{"name": "y"})
	id := e["id"].(string)
	ok, err := b.store.DeleteEntity(b.ctx, "soft", id, false)
	if !ok || err != nil {
		t.Fatalf("DeleteEntity = %v, %v", ok, err)
	}
	_, err = b.store.GetEntity(b.ctx, "soft", id)
	wantErr(t, err, db.ErrNotFound, "GetEntity of a soft-deleted entity")
	d := b.get(t, "soft", id, db.IncludeDeleted())
	if s, _ := d["deleted_at"].(string); !tsPattern.MatchString(s) {
		t.Errorf("deleted_at = %#v", d["deleted_at"])
	}
	if got := ids(b.find(t, "soft", db.Query{})); !reflect.DeepEqual(got, []string{keep["id"].(string)}) {
		t.Errorf("Find shows soft-deleted: %v", got)
	}
	if got := b.find(t, "soft", db.Query{IncludeDeleted: true}); len(got) != 2 {
		t.Errorf("Find IncludeDeleted: %d, want 2", len(got))
	}
	if n := b.count(t, "soft", ""); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
	if ok, err := b.store.DeleteEntity(b.ctx, "soft", id, false); ok || err != nil {
		t.Errorf("second soft delete = %v, %v, want false", ok, err)
	}
	r := b.save(t, "soft", db.Entity{"id": id, "name": "back"})
	if r["deleted_at"] != nil || r["name"] != "back" {
		t.Errorf("restore returned %v", r)
	}
	if g := b.get(t, "soft", id); g["name"] != "back" || g["created_at"] != e["created_at"] {
		t.Errorf("restored entity = %v", g)
	}
	if ok, err := b.store.DeleteEntity(b.ctx, "soft", "nope", false); ok || err != nil {
		t.Errorf("delete of a missing id = %v, %v", ok, err)
	}
}

func testPermanentDelete(t *testing.T, b *bundle) {
	e := b.save(t, "perm", db.Entity{"name": "x"})
	id := e["id"].(string)
	if _, err := b.store.DeleteEntity(b.ctx, "perm", id, false); err != nil {
		t.Fatal(err)
	}
	ok, err := b.store.DeleteEntity(b.ctx, "perm", id, true)
	if !ok || err != nil {
		t.Fatalf("permanent delete of a soft-deleted entity = %v, %v", ok, err)
	}
	_, err = b.store.GetEntity(b.ctx, "perm", id, db.IncludeDeleted())
	wantErr(t, err, db.ErrNotFound, "GetEntity after permanent delete")
	if ok, _ := b.store.DeleteEntity(b.ctx, "perm", id, true); ok {
		t.Error("second permanent delete reported true")
	}
	// The id can be used again; its history goes on.
	b.save(t, "perm", db.Entity{"id": id, "name": "again"})
	h, err := b.store.History(b.ctx, "perm", id)
	if err != nil || len(h) != 4 || h[3].Op != "create" || h[3].Version != 4 {
		t.Errorf("history after re-create = %+v, %v", h, err)
	}
}

func testHistory(t *testing.T, b *bundle) {
	e := b.save(t, "hist", db.Entity{"name": "v1", "n": int64(1)})
	id := e["id"].(string)
	b.save(t, "hist", db.Entity{"id": id, "name": "v2"})
	b.store.DeleteEntity(b.ctx, "hist", id, false)
	b.save(t, "hist", db.Entity{"id": id, "n": int64(5)})
	h, err := b.store.History(b.ctx, "hist", id)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		op      string
		name    any
		n       any
		deleted bool
	}
	want := []step{{"create", "v1", int64(1), false}, {"update", "v2", int64(1), false}, {"delete", "v2", int64(1), true}, {"restore", "v2", int64(5), false}}
	if len(h) != len(want) {
		t.Fatalf("history has %d entries, want %d: %+v", len(h), len(want), h)
	}
	for i, w := range want {
		g := h[i]
		if g.Version != int64(i+1) || g.Op != w.op || g.Entity["name"] != w.name || g.Entity["n"] != w.n ||
			(g.Entity["deleted_at"] != nil) != w.deleted || g.Entity["id"] != id || !tsPattern.MatchString(g.ChangedAt) {
			t.Errorf("history[%d] = %+v, want %+v", i, g, w)
		}
	}
	if h, _ := b.store.History(b.ctx, "hist", "other"); len(h) != 0 {
		t.Errorf("history of an unknown id = %v", h)
	}
}

func testHistoryDisabled(t *testing.T, b *bundle) {
	b.store.DisableHistory("secrets")
	e := b.save(t, "secrets", db.Entity{"token": "s3cret"})
	b.save(t, "secrets", db.Entity{"id": e["id"], "token": "other"})
	h, err := b.store.History(b.ctx, "secrets", e["id"].(string))
	if err != nil || len(h) != 0 {
		t.Errorf("history of a table without history = %v, %v", h, err)
	}
	if n := b.count(t, "secrets_history", ""); n != 0 {
		t.Errorf("secrets_history has %d rows", n)
	}
}

func testTypeMismatch(t *testing.T, b *bundle) {
	b.save(t, "typed", db.Entity{"n": int64(1), "s": "x", "b": true, "f": 1.5, "j": map[string]any{"a": 1}})
	cases := []struct {
		field string
		value any
		col   string
		val   string
	}{
		{"n", "abc", "integer", "text"},
		{"n", 1.5, "integer", "float"},
		{"s", int64(3), "text", "integer"},
		{"b", "yes", "bool", "text"},
		{"f", "1.5", "float", "text"},
		{"j", "str", "json", "text"},
	}
	for _, c := range cases {
		_, err := b.store.SaveEntity(b.ctx, "typed", db.Entity{c.field: c.value})
		wantErr(t, err, db.ErrTypeMismatch, fmt.Sprintf("%s = %#v", c.field, c.value))
		var te *db.TypeMismatchError
		if !errors.As(err, &te) || te.Table != "typed" || te.Column != c.field || te.ColumnType != c.col || te.ValueType != c.val {
			t.Errorf("%s = %#v: error %#v", c.field, c.value, te)
		}
		if err != nil && (!strings.Contains(err.Error(), "typed."+c.field) || !strings.Contains(err.Error(), c.col)) {
			t.Errorf("message %q does not name table, column and types", err)
		}
	}
	// What converts without loss is accepted.
	e := b.save(t, "typed", db.Entity{"n": 2.0, "f": int64(3)})
	if e["n"] != int64(2) || e["f"] != 3.0 {
		t.Errorf("lossless conversions: %v", e)
	}
	if n := b.count(t, "typed", ""); n != 2 {
		t.Errorf("count = %d, want 2 (rejected saves wrote nothing)", n)
	}
}

func testUniqueIndex(t *testing.T, b *bundle) {
	for i := 0; i < 2; i++ { // idempotent
		if err := b.store.EnsureIndex(b.ctx, "users", []string{"email"}, true); err != nil {
			t.Fatalf("EnsureIndex: %v", err)
		}
	}
	if err := b.store.EnsureIndex(b.ctx, "users", []string{"org", "created_at"}, false); err != nil {
		t.Fatalf("EnsureIndex composite: %v", err)
	}
	a := b.save(t, "users", db.Entity{"email": "a@x.io"})
	_, err := b.store.SaveEntity(b.ctx, "users", db.Entity{"email": "a@x.io"})
	wantErr(t, err, db.ErrConflict, "duplicate email")
	var sc interface{ HTTPStatus() int }
	if !errors.As(err, &sc) || sc.HTTPStatus() != 409 {
		t.Errorf("conflict is not HTTP 409: %v", err)
	}
	b.save(t, "users", db.Entity{"email": "A@x.io"}) // case-sensitive everywhere
	_, err = b.store.SaveEntity(b.ctx, "users", db.Entity{"id": "other", "email": "a@x.io"})
	wantErr(t, err, db.ErrConflict, "duplicate email with a given id")
	// NULLs never conflict.
	for i := 0; i < 3; i++ {
		b.save(t, "users", db.Entity{"email": nil, "name": "anon"})
	}
	b.save(t, "users", db.Entity{"name": "no email"})
	// Updating to a taken value conflicts; the row is unchanged.
	c := b.save(t, "users", db.Entity{"email": "c@x.io"})
	_, err = b.store.SaveEntity(b.ctx, "users", db.Entity{"id": c["id"], "email": "a@x.io"})
	wantErr(t, err, db.ErrConflict, "update to a taken email")
	if g := b.get(t, "users", c["id"].(string)); g["email"] != "c@x.io" {
		t.Errorf("failed update changed the row: %v", g)
	}
	if n := b.count(t, "users", "[email] = ?", "a@x.io"); n != 1 {
		t.Errorf("%d users with a@x.io", n)
	}
	_ = a
	// A unique index over duplicate data is refused.
	b.save(t, "dups", db.Entity{"k": "same"})
	b.save(t, "dups", db.Entity{"k": "same"})
	wantErr(t, b.store.EnsureIndex(b.ctx, "dups", []string{"k"}, true), db.ErrConflict, "unique index over duplicates")
	// Columns an index names are created as needed (and then typed text).
	if err := b.store.EnsureIndex(b.ctx, "fresh_idx", []string{"token"}, true); err != nil {
		t.Fatal(err)
	}
	b.save(t, "fresh_idx", db.Entity{"token": "t1"})
	_, err = b.store.SaveEntity(b.ctx, "fresh_idx", db.Entity{"token": "t1"})
	wantErr(t, err, db.ErrConflict, "index created with its table")
}

func testUniqueIndexInTx(t *testing.T, b *bundle) {
	if err := b.store.EnsureColumns(b.ctx, "admins", db.Entity{"email": "", "first_admin": true}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.EnsureIndex(b.ctx, "admins", []string{"first_admin"}, true); err != nil {
		t.Fatal(err)
	}
	if err := b.store.EnsureIndex(b.ctx, "admins", []string{"email"}, true); err != nil {
		t.Fatal(err)
	}
	b.save(t, "admins", db.Entity{"email": "first@x.io", "first_admin": true})
	var inner error
	err := b.store.Tx(b.ctx, func(tx *db.Store) error {
		_, inner = tx.SaveEntity(b.ctx, "admins", db.Entity{"email": "second@x.io", "first_admin": true})
		return inner
	})
	wantErr(t, inner, db.ErrConflict, "second first admin inside Tx")
	wantErr(t, err, db.ErrConflict, "Tx result")
	// After a conflict the transaction is still usable, on every database.
	err = b.store.Tx(b.ctx, func(tx *db.Store) error {
		if _, err := tx.SaveEntity(b.ctx, "admins", db.Entity{"email": "first@x.io"}); !errors.Is(err, db.ErrConflict) {
			return fmt.Errorf("want conflict, got %v", err)
		}
		_, err := tx.SaveEntity(b.ctx, "admins", db.Entity{"email": "third@x.io", "first_admin": nil})
		return err
	})
	if err != nil {
		t.Fatalf("Tx after a conflict: %v", err)
	}
	if n := b.count(t, "admins", ""); n != 2 {
		t.Errorf("count = %d, want 2", n)
	}
	if n := b.count(t, "admins", "[first_admin] = ?", true); n != 1 {
		t.Errorf("first admins = %d, want 1", n)
	}
}

// Transactions saving entities with explicit ids that do not exist yet run
// concurrently without failing (no deadlock between existence checks on
// MySQL), and a new id saved by all of them at once is created once and
// then updated, with contiguous history versions.
func testTxConcurrentNewIDs(t *testing.T, b *bundle) {
	if err := b.store.EnsureColumns(b.ctx, "accts", db.Entity{"name": "", "n": int64(0)}); err != nil {
		t.Fatal(err)
	}
	b.save(t, "accts", db.Entity{"id": "acct-0", "name": "seed"})
	b.save(t, "accts", db.Entity{"id": "acct-z", "name": "seed"})
	const workers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := b.store.Tx(b.ctx, func(tx *db.Store) error {
					id := fmt.Sprintf("acct-%d-%02d", w, i)
					if _, err := tx.SaveEntity(b.ctx, "accts", db.Entity{"id": id, "name": "new", "n": int64(w)}); err != nil {
						return err
					}
					if _, err := tx.SaveEntity(b.ctx, "accts", db.Entity{"id": id, "name": "renamed"}); err != nil {
						return err
					}
					// The same new id from every transaction: one creates
					// it, the others update it (on MySQL, those waiting on
					// the creator's insert deadlock once it commits, and
					// Tx runs them again).
					_, err := tx.SaveEntity(b.ctx, "accts", db.Entity{"id": "acct-shared", "n": int64(w)})
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d tx %d: %w", w, i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := b.count(t, "accts", "[name] = ?", "renamed"); n != workers*each {
		t.Errorf("%d renamed entities, want %d", n, workers*each)
	}
	h, err := b.store.History(b.ctx, "accts", "acct-shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != workers*each {
		t.Fatalf("acct-shared has %d versions, want %d", len(h), workers*each)
	}
	for i, v := range h {
		wantOp := "update"
		if i == 0 {
			wantOp = "create"
		}
		if v.Version != int64(i+1) || v.Op != wantOp {
			t.Errorf("acct-shared version %d = %d %s, want %d %s", i, v.Version, v.Op, i+1, wantOp)
		}
	}
	h, err = b.store.History(b.ctx, "accts", "acct-3-05")
	if err != nil || len(h) != 2 || h[0].Op != "create" || h[1].Version != 2 {
		t.Errorf("history of acct-3-05 = %+v, %v; want create then update", h, err)
	}
}

func testTxCommit(t *testing.T, b *bundle) {
	var id string
	err := b.store.Tx(b.ctx, func(tx *db.Store) error {
		e, err := tx.SaveEntity(b.ctx, "txc", db.Entity{"name": "in tx"})
		if err != nil {
			return err
		}
		id = e["id"].(string)
		// Reads inside see the transaction's writes.
		if g, err := tx.GetEntity(b.ctx, "txc", id); err != nil || g["name"] != "in tx" {
			return fmt.Errorf("read inside tx: %v %v", g, err)
		}
		if n, err := tx.CountEntities(b.ctx, "txc", ""); err != nil || n != 1 {
			return fmt.Errorf("count inside tx: %d %v", n, err)
		}
		if _, err := tx.SaveEntity(b.ctx, "txc", db.Entity{"id": id, "extra": int64(1)}); err != nil {
			return err
		}
		// A table read while missing, then created, in the same transaction.
		if n, err := tx.CountEntities(b.ctx, "txc_late", ""); err != nil || n != 0 {
			return fmt.Errorf("count of a missing table: %d %v", n, err)
		}
		if _, err := tx.SaveEntity(b.ctx, "txc_late", db.Entity{"id": "late", "v": true}); err != nil {
			return err
		}
		return tx.Tx(b.ctx, func(inner *db.Store) error { // nested: same transaction
			_, err := inner.SaveEntity(b.ctx, "txc_other", db.Entity{"ref": id})
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := b.get(t, "txc", id); g["extra"] != int64(1) {
		t.Errorf("committed entity = %v", g)
	}
	if n := b.count(t, "txc_other", "[ref] = ?", id); n != 1 {
		t.Errorf("nested tx write missing")
	}
	if h, _ := b.store.History(b.ctx, "txc", id); len(h) != 2 {
		t.Errorf("history = %d entries, want 2", len(h))
	}
	if h, err := b.store.History(b.ctx, "txc_late", "late"); err != nil || len(h) != 1 || h[0].Entity["v"] != true {
		t.Errorf("history of the table created in the tx = %+v, %v", h, err)
	}
}

func testTxRollback(t *testing.T, b *bundle) {
	pre := b.save(t, "txr", db.Entity{"name": "before"})
	var id string
	var tx2 *db.Store
	boom := errors.New("boom")
	err := b.store.Tx(b.ctx, func(tx *db.Store) error {
		tx2 = tx
		e, err := tx.SaveEntity(b.ctx, "txr", db.Entity{"name": "doomed", "newcol": int64(1)})
		if err != nil {
			return err
		}
		id = e["id"].(string)
		if _, err := tx.SaveEntity(b.ctx, "txr", db.Entity{"id": pre["id"], "name": "changed"}); err != nil {
			return err
		}
		if _, err := tx.DeleteEntity(b.ctx, "txr", pre["id"].(string), false); err != nil {
			return err
		}
		if _, err := tx.SaveEntity(b.ctx, "txr_new_table", db.Entity{"a": 1}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	_, err = b.store.GetEntity(b.ctx, "txr", id, db.IncludeDeleted())
	wantErr(t, err, db.ErrNotFound, "entity created in a rolled-back tx")
	if g := b.get(t, "txr", pre["id"].(string)); g["name"] != "before" {
		t.Errorf("rolled-back update kept: %v", g)
	}
	if h, _ := b.store.History(b.ctx, "txr", pre["id"].(string)); len(h) != 1 {
		t.Errorf("rolled-back history kept: %d entries", len(h))
	}
	if n := b.count(t, "txr_new_table", ""); n != 0 {
		t.Errorf("rolled-back rows in a table created in the tx: %d", n)
	}
	// The schema cache did not keep what rolled back: saving works.
	b.save(t, "txr", db.Entity{"newcol": int64(2)})
	b.save(t, "txr_new_table", db.Entity{"a": 2})
	// The transaction's Store is dead.
	if _, err := tx2.GetEntity(b.ctx, "txr", id); err == nil {
		t.Error("Store of a finished Tx still works")
	}
}

func testTxPanic(t *testing.T, b *bundle) {
	var id string
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v, want the panic to continue", r)
			}
		}()
		b.store.Tx(b.ctx, func(tx *db.Store) error {
			e, err := tx.SaveEntity(b.ctx, "txp", db.Entity{"name": "x"})
			if err != nil {
				t.Error(err)
			}
			id, _ = e["id"].(string)
			panic("kaboom")
		})
	}()
	_, err := b.store.GetEntity(b.ctx, "txp", id)
	wantErr(t, err, db.ErrNotFound, "entity saved before a panic")
	b.save(t, "txp", db.Entity{"name": "after"}) // the writer is free again
}

type recorder struct {
	mu      sync.Mutex
	changes []db.Change
}

func (r *recorder) observe(_ context.Context, c db.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) take() []db.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func testObservers(t *testing.T, b *bundle) {
	var r recorder
	b.store.OnChange(r.observe)
	e := b.save(t, "obs", db.Entity{"v": int64(1)})
	id := e["id"].(string)
	b.save(t, "obs", db.Entity{"id": id, "v": int64(2)})
	b.store.DeleteEntity(b.ctx, "obs", id, false)
	b.store.DeleteEntity(b.ctx, "obs", id, false) // no-op: no change
	b.save(t, "obs", db.Entity{"id": id})
	b.store.DeleteEntity(b.ctx, "obs", id, true)
	b.store.SaveEntity(b.ctx, "obs", db.Entity{"v": "bad type"}) // fails: no change
	got := r.take()
	want := []struct {
		op     string
		oldV   any
		newV   any
		hasOld bool
		hasNew bool
	}{
		{"create", nil, int64(1), false, true},
		{"update", int64(1), int64(2), true, true},
		{"delete", int64(2), int64(2), true, true},
		{"restore", int64(2), int64(2), true, true},
		{"delete", int64(2), nil, true, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d changes observed, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Op != w.op || g.Table != "obs" || g.ID != id || (g.Old != nil) != w.hasOld || (g.New != nil) != w.hasNew {
			t.Errorf("change %d = %+v, want %+v", i, g, w)
			continue
		}
		if w.hasOld && g.Old["v"] != w.oldV || w.hasNew && g.New["v"] != w.newV {
			t.Errorf("change %d values: old %v new %v, want %v %v", i, g.Old["v"], g.New["v"], w.oldV, w.newV)
		}
	}
	if got[2].New["deleted_at"] == nil || got[3].Old["deleted_at"] == nil || got[3].New["deleted_at"] != nil {
		t.Errorf("delete/restore changes do not show deleted_at: %+v %+v", got[2], got[3])
	}
}

func testObserversTx(t *testing.T, b *bundle) {
	var r recorder
	b.store.OnChange(r.observe)
	b.store.Tx(b.ctx, func(tx *db.Store) error {
		tx.SaveEntity(b.ctx, "obstx", db.Entity{"v": 1})
		if n := len(r.take()); n != 0 {
			t.Errorf("%d changes observed before commit", n)
		}
		return errors.New("rollback")
	})
	if got := r.take(); len(got) != 0 {
		t.Errorf("rolled-back changes observed: %+v", got)
	}
	err := b.store.Tx(b.ctx, func(tx *db.Store) error {
		e, err := tx.SaveEntity(b.ctx, "obstx", db.Entity{"v": 1})
		if err != nil {
			return err
		}
		_, err = tx.SaveEntity(b.ctx, "obstx", db.Entity{"id": e["id"], "v": 2})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := r.take()
	if len(got) != 2 || got[0].Op != "create" || got[1].Op != "update" || got[1].Old["v"] != int64(1) || got[1].New["v"] != int64(2) {
		t.Errorf("committed changes = %+v", got)
	}
}

// Tables without history hold secrets: observers (the audit log) never see
// their changes, in or out of Tx, while other tables are still observed.
func testObserversNoHistory(t *testing.T, b *bundle) {
	var r recorder
	b.store.DisableHistory("tokens")
	b.store.OnChange(r.observe)
	e := b.save(t, "tokens", db.Entity{"hash": "s3cret-hash"})
	b.save(t, "tokens", db.Entity{"id": e["id"], "hash": "other-hash"})
	if _, err := b.store.DeleteEntity(b.ctx, "tokens", e["id"].(string), false); err != nil {
		t.Fatal(err)
	}
	err := b.store.Tx(b.ctx, func(tx *db.Store) error {
		if _, err := tx.SaveEntity(b.ctx, "tokens", db.Entity{"hash": "in-tx"}); err != nil {
			return err
		}
		_, err := tx.SaveEntity(b.ctx, "audited", db.Entity{"name": "visible"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.DeleteEntity(b.ctx, "tokens", e["id"].(string), true); err != nil {
		t.Fatal(err)
	}
	got := r.take()
	for _, c := range got {
		if c.Table == "tokens" {
			t.Errorf("observer saw a change of a table without history: %+v", c)
		}
	}
	if len(got) != 1 || got[0].Table != "audited" || got[0].Op != "create" {
		t.Errorf("changes observed = %+v, want only the create in audited", got)
	}
}

// widget is a model as code.
type widget struct {
	ID        string         `json:"id,omitempty"`
	Name      string         `json:"name"`
	Size      int            `json:"size,omitempty"`
	Price     float64        `json:"price"`
	Tags      []string       `json:"tags,omitempty"`
	Meta      map[string]any `json:"meta,omitempty"`
	Active    bool           `json:"active"`
	Due       time.Time      `json:"due"`
	Secret    string         `json:"-"`
	CreatedAt string         `json:"created_at,omitempty"`
	UpdatedAt string         `json:"updated_at,omitempty"`
}

func testTyped(t *testing.T, b *bundle) {
	due := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	w, err := db.Save(b.ctx, b.store, "widgets", widget{Name: "gear", Size: 3, Price: 9.5, Tags: []string{"a", "b"}, Active: true, Due: due, Secret: "no"})
	if err != nil {
		t.Fatal(err)
	}
	if w.ID == "" || w.CreatedAt == "" || w.Name != "gear" || w.Size != 3 || !w.Due.Equal(due) {
		t.Errorf("Save returned %+v", w)
	}
	e := b.get(t, "widgets", w.ID)
	if _, ok := e["Secret"]; ok {
		t.Errorf("json:\"-\" field stored: %v", e)
	}
	if e["due"] != "2026-05-06T07:08:09.000000Z" {
		t.Errorf("time stored as %#v", e["due"])
	}
	// omitempty fields left empty keep their stored value.
	w2, err := db.Save(b.ctx, b.store, "widgets", widget{ID: w.ID, Name: "gear 2", Price: 1})
	if err != nil {
		t.Fatal(err)
	}
	if w2.Size != 3 || len(w2.Tags) != 2 || w2.Name != "gear 2" || w2.Active {
		t.Errorf("update through Save = %+v", w2)
	}
	g, err := db.Get[widget](b.ctx, b.store, "widgets", w.ID)
	if err != nil || !reflect.DeepEqual(g, w2) {
		t.Errorf("Get = %+v, %v; want %+v", g, err, w2)
	}
	db.Save(b.ctx, b.store, "widgets", &widget{Name: "cog", Size: 1})
	list, err := db.Find[widget](b.ctx, b.store, "widgets", db.Query{OrderBy: "[name] ASC"})
	if err != nil || len(list) != 2 || list[0].Name != "cog" || list[1].Name != "gear 2" {
		t.Errorf("Find = %+v, %v", list, err)
	}
	_, err = db.Get[widget](b.ctx, b.store, "widgets", "nope")
	wantErr(t, err, db.ErrNotFound, "Get of a missing id")
}

func testSchemaCache(t *testing.T, b *bundle) {
	s := b.store
	e := b.save(t, "warm", db.Entity{"name": "a", "n": int64(1)})
	id := e["id"].(string)
	b.get(t, "warm", id)
	b.find(t, "warm", db.Query{Where: "[name] = ?", Params: []any{"a"}})
	b.count(t, "warm", "[n] > 0")
	before := s.Stats()
	for i := 0; i < 20; i++ {
		b.save(t, "warm", db.Entity{"name": "b", "n": int64(i)})
		b.save(t, "warm", db.Entity{"id": id, "n": int64(i)})
		b.get(t, "warm", id)
		b.find(t, "warm", db.Query{Where: "[name] = ?", Params: []any{"a"}, Limit: 5})
		b.count(t, "warm", "[n] > 0")
		s.DeleteEntity(b.ctx, "warm", id, false)
	}
	after := s.Stats()
	if n := after.Introspections - before.Introspections; n != 0 {
		t.Errorf("%d introspection queries once warm, want 0", n)
	}
	// Per round, exactly what hand-written SQL needs: insert 4 (begin,
	// insert, history, commit), update 5 (begin, select for update, update,
	// history, commit), get 1, find 1, count 1, soft delete 5.
	if n := after.Statements - before.Statements; n != 20*17 {
		t.Errorf("%d statements for 20 rounds, want %d", n, 20*17)
	}
}

func testTwoStores(t *testing.T, b *bundle) {
	s1, s2 := b.store, b.open(t)
	// Warm both caches on another table, so each believes its own picture.
	for round := 0; round < 5; round++ {
		table := fmt.Sprintf("race_%d", round)
		col := fmt.Sprintf("col_%d", round)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i, s := range []*db.Store{s1, s2, s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Same new table and same new column at the same moment.
				if _, err := s.SaveEntity(b.ctx, table, db.Entity{col: int64(i), "common": "x"}); err != nil {
					errs <- fmt.Errorf("store %d: %w", i%2+1, err)
				}
				if err := s.EnsureIndex(b.ctx, table, []string{col}, false); err != nil {
					errs <- fmt.Errorf("store %d EnsureIndex: %w", i%2+1, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := b.count(t, table, ""); n != 4 {
			t.Errorf("%s: %d entities, want 4", table, n)
		}
	}
	// A column added by one store is read by the other.
	e, err := s1.SaveEntity(b.ctx, "race_0", db.Entity{"late": true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s2.GetEntity(b.ctx, "race_0", e["id"].(string))
	if err != nil || g["late"] != true {
		t.Errorf("second store reads %v, %v; want late=true", g, err)
	}
}

// The store prepares its statements once; a cached SELECT must still
// return columns added afterwards, by the same store or by another one.
func testPreparedNewColumns(t *testing.T, b *bundle) {
	s1, s2 := b.store, b.open(t)
	e := b.save(t, "prep", db.Entity{"name": "a"})
	id := e["id"].(string)
	read := func(s *db.Store, what string) (db.Entity, []db.Entity) {
		t.Helper()
		g, err := s.GetEntity(b.ctx, "prep", id)
		if err != nil {
			t.Fatalf("%s: GetEntity: %v", what, err)
		}
		l, err := s.FindEntities(b.ctx, "prep", db.Query{Where: "[name] = ?", Params: []any{"a"}})
		if err != nil || len(l) != 1 {
			t.Fatalf("%s: FindEntities: %v, %v", what, l, err)
		}
		return g, l
	}
	for i := 0; i < 3; i++ { // warm: statements prepared and reused
		read(s1, "warm s1")
		read(s2, "warm s2")
	}
	if st := s2.Stats(); st.Prepared == 0 {
		t.Errorf("no prepared statement cached after warm reads: %+v", st)
	}
	// The same store adds a column.
	b.save(t, "prep", db.Entity{"id": id, "own": int64(7)})
	if g, l := read(s1, "after own column"); g["own"] != int64(7) || l[0]["own"] != int64(7) {
		t.Errorf("same store after ADD COLUMN: get %v, find %v", g, l[0])
	}
	// Another store adds a column: s2's prepared statements predate it.
	if _, err := s1.SaveEntity(b.ctx, "prep", db.Entity{"id": id, "other": "x"}); err != nil {
		t.Fatal(err)
	}
	if g, l := read(s2, "after other store's column"); g["other"] != "x" || l[0]["other"] != "x" || g["own"] != int64(7) {
		t.Errorf("other store after ADD COLUMN: get %v, find %v", g, l[0])
	}
	if n, err := s2.CountEntities(b.ctx, "prep", "[other] = ?", "x"); err != nil || n != 1 {
		t.Errorf("count on the new column = %d, %v", n, err)
	}
}

// A transaction whose statements were cached before another store (another
// instance of the service) added a column still works and sees the column:
// on Postgres the stale statement aborts the transaction, which Tx then runs
// again.
func testTxNewColumns(t *testing.T, b *bundle) {
	s1, s2 := b.store, b.open(t)
	id := b.save(t, "prep_tx", db.Entity{"name": "a"})["id"].(string)
	var runs int
	readAll := func(tx *db.Store) (db.Entity, error) {
		runs++
		g, err := tx.GetEntity(b.ctx, "prep_tx", id)
		if err != nil {
			return nil, err
		}
		l, err := tx.FindEntities(b.ctx, "prep_tx", db.Query{Where: "[name] = ?", Params: []any{"a"}})
		if err != nil {
			return nil, err
		}
		if len(l) != 1 {
			return nil, fmt.Errorf("FindEntities: %d entities", len(l))
		}
		if _, err := tx.SaveEntity(b.ctx, "prep_tx", db.Entity{"id": id, "seen": int64(runs)}); err != nil {
			return nil, err
		}
		return g, nil
	}
	for i := 0; i < 3; i++ { // warm: statements prepared and reused, in and out of transactions
		if err := s2.Tx(b.ctx, func(tx *db.Store) error { _, err := readAll(tx); return err }); err != nil {
			t.Fatalf("warm-up Tx: %v", err)
		}
		if _, err := s2.GetEntity(b.ctx, "prep_tx", id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s1.SaveEntity(b.ctx, "prep_tx", db.Entity{"id": id, "later": "x"}); err != nil {
		t.Fatal(err)
	}
	runs = 0
	var got db.Entity
	err := s2.Tx(b.ctx, func(tx *db.Store) error {
		g, err := readAll(tx)
		got = g
		return err
	})
	if err != nil {
		t.Fatalf("Tx after another store's ADD COLUMN: %v (after %d runs)", err, runs)
	}
	if got["later"] != "x" {
		t.Errorf("Tx read %v, want later=x", got)
	}
	t.Logf("fn ran %d times", runs)
	if runs > 2 {
		t.Errorf("fn ran %d times, want at most 2", runs)
	}
}

// Ids and text that differ only by trailing spaces are different values on
// every database (MySQL's PAD SPACE collations would make "admin " the
// entity "admin" and let a save with one overwrite the other).
func testTrailingSpaces(t *testing.T, b *bundle) {
	b.save(t, "pad", db.Entity{"id": "admin", "name": "admin", "role": "admin"})
	e := b.save(t, "pad", db.Entity{"id": "admin ", "name": "admin ", "role": "guest"})
	if e["id"] != "admin " || e["role"] != "guest" {
		t.Errorf("saving id %q returned %v", "admin ", e)
	}
	if g := b.get(t, "pad", "admin"); g["role"] != "admin" || g["name"] != "admin" {
		t.Errorf("entity admin after saving %q: %v", "admin ", g)
	}
	_, err := b.store.GetEntity(b.ctx, "pad", "admin  ")
	wantErr(t, err, db.ErrNotFound, `GetEntity("admin  ")`)
	if l := b.find(t, "pad", db.Query{Where: "[name] = ?", Params: []any{"admin   "}}); len(l) != 0 {
		t.Errorf("[name] = 'admin   ' matched %v", ids(l))
	}
	if l := b.find(t, "pad", db.Query{Where: "[name] = ?", Params: []any{"admin"}}); len(l) != 1 || l[0]["id"] != "admin" {
		t.Errorf("[name] = 'admin' matched %v", ids(l))
	}
	if err := b.store.EnsureIndex(b.ctx, "pad", []string{"name"}, true); err != nil {
		t.Fatalf("unique index over names differing by trailing spaces: %v", err)
	}
}

// A where clause is text from the caller; whatever it is, it is parsed as a
// where clause, never taken for a cached order.
func testWhereNotOrder(t *testing.T, b *bundle) {
	b.save(t, "wno", db.Entity{"a": "x"})
	b.find(t, "wno", db.Query{OrderBy: "[a] DESC"})
	_, err := b.store.FindEntities(b.ctx, "wno", db.Query{Where: "\x00order\x00[a] DESC"})
	wantErr(t, err, db.ErrInvalidQuery, "where clause shaped like a cached order's key")
	_, err = b.store.CountEntities(b.ctx, "wno", "\x00order\x00[a] DESC")
	wantErr(t, err, db.ErrInvalidQuery, "count with a where clause shaped like a cached order's key")
}

// NaN and the infinities are refused with ErrTypeMismatch before anything
// is written, with or without history (the databases would each store
// something else).
func testNonFinite(t *testing.T, b *bundle) {
	b.store.DisableHistory("nanh")
	for _, table := range []string{"nan", "nanh"} {
		for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1), float32(math.Inf(1))} {
			_, err := b.store.SaveEntity(b.ctx, table, db.Entity{"x": v})
			wantErr(t, err, db.ErrTypeMismatch, fmt.Sprintf("save %v into %s", v, table))
		}
		// The refused value created no float column: x still takes text.
		e := b.save(t, table, db.Entity{"x": "text"})
		if e["x"] != "text" {
			t.Errorf("%s: x = %v after the refused saves", table, e["x"])
		}
		_, err := b.store.FindEntities(b.ctx, table, db.Query{Where: "[x] = ?", Params: []any{math.NaN()}})
		wantErr(t, err, db.ErrTypeMismatch, "NaN as a parameter")
	}
}

// A parameter compared with a column takes the column's type, so every
// database gives the same answer: 0 does not match text on MySQL, 2.5 does
// not match 2 on Postgres, 1 is true, and a missing column compares as NULL
// whatever the parameter's type.
func testParamTypes(t *testing.T, b *bundle) {
	b.save(t, "pt", db.Entity{"token": "s3cr3t-abc", "code": "12345", "n": int64(2), "f": 1.5, "ok": true})
	cases := []struct {
		where  string
		params []any
		want   int // matches; -1: ErrInvalidQuery
	}{
		{"[token] = ?", []any{0}, 0},
		{"? = [token]", []any{0}, 0},
		{"[token] = ?", []any{0.0}, 0},
		{"[token] IN (?, ?)", []any{0, false}, 0},
		{"[token] LIKE ?", []any{0}, 0},
		{"[token] != ?", []any{0}, 1},
		{"[code] = ?", []any{12345}, 1},
		{"[code] = ?", []any{12345.0}, 1},
		{"[n] = ?", []any{2.0}, 1},
		{"[n] = ?", []any{2.5}, -1},
		{"[n] < ?", []any{2.9}, -1},
		{"[n] < ?", []any{3.0}, 1},
		{"[n] IN (?, -1, ?)", []any{1.0, 2.0}, 1},
		{"[n] NOT BETWEEN ? AND ?", []any{1.0, 3.0}, 0},
		{"[n] = ?", []any{true}, 0},
		{"[f] > ?", []any{1}, 1},
		{"[ok] = ?", []any{1}, 1},
		{"[ok] = ?", []any{0.0}, 0},
		{"[ok] = ?", []any{true}, 1},
		{"[ok] = ?", []any{2}, -1},
		{"[age] >= ?", []any{18}, 0},
		{"[age] IN (?, ?) OR [n] = ?", []any{1, 2.5, 2}, 1},
		{"NOT ([age] = ?)", []any{true}, 0},
		{"COALESCE([n], ?) = ?", []any{7, 2}, 1},
		{"LOWER([token]) = ?", []any{"s3cr3t-abc"}, 1},
	}
	for _, c := range cases {
		n, err := b.store.CountEntities(b.ctx, "pt", c.where, c.params...)
		l, ferr := b.store.FindEntities(b.ctx, "pt", db.Query{Where: c.where, Params: c.params})
		if c.want < 0 {
			wantErr(t, err, db.ErrInvalidQuery, fmt.Sprintf("count %s %v", c.where, c.params))
			wantErr(t, ferr, db.ErrInvalidQuery, fmt.Sprintf("find %s %v", c.where, c.params))
			continue
		}
		if err != nil || ferr != nil || n != int64(c.want) || len(l) != c.want {
			t.Errorf("%s %v: count %d (%v), find %d (%v); want %d", c.where, c.params, n, err, len(l), ferr, c.want)
		}
	}
}

// A value is compared as the type of the column or expression it is
// compared with, and a value that cannot be that type is ErrInvalidQuery:
// on MySQL "abc" used to match 0, "7abc" 7, LOWER([code]) = 0 every row
// and [token] = 0 the text "abc"; on Postgres the same were driver errors.
// Literals, IN, BETWEEN, LIKE and functions over columns alike, with the
// same answer on every database.
func testJunkNeverMatches(t *testing.T, b *bundle) {
	tb := "junk"
	b.save(t, tb, db.Entity{"id": "zero", "parent_id": int64(0), "approved": false, "code": "abc", "token": "abc", "f": 0.0, "meta": map[string]any{"k": "v"}})
	b.save(t, tb, db.Entity{"id": "seven", "parent_id": int64(7), "approved": true, "code": "日本", "token": "7abc", "f": 7.5})
	b.save(t, tb, db.Entity{"id": "min", "parent_id": int64(math.MinInt64), "approved": false, "code": "0", "token": "0", "f": -1.0})
	const invalid = "ErrInvalidQuery"
	cases := []struct {
		where  string
		params []any
		want   any // the ids matched, in id order, or invalid
	}{
		// The reported attacks.
		{"[parent_id] = ?", []any{"abc"}, invalid},
		{"[parent_id] = ?", []any{"7abc"}, invalid},
		{"[approved] = ?", []any{"abc"}, invalid},
		{"LOWER([code]) = ?", []any{0.0}, []string{"min"}},
		{"LOWER([code]) = ?", []any{int64(0)}, []string{"min"}},
		{"[token] = 0", nil, []string{"min"}},
		{"[token] = 7", nil, []string{}},
		// Text that is exactly a number or boolean is that value.
		{"[parent_id] = ?", []any{"7"}, []string{"seven"}},
		{"[parent_id] = '7'", nil, []string{"seven"}},
		{"[f] > ?", []any{"7"}, []string{"seven"}},
		{"[approved] = ?", []any{"true"}, []string{"seven"}},
		{"[parent_id] = ?", []any{" 7"}, invalid},
		{"[parent_id] = ?", []any{"0x7"}, invalid},
		{"[parent_id] = ?", []any{""}, invalid},
		{"[f] = ?", []any{"NaN"}, invalid},
		// Literals as well as parameters.
		{"[parent_id] = 'abc'", nil, invalid},
		{"[approved] = 'abc'", nil, invalid},
		{"[approved] = 2", nil, invalid},
		{"[approved] = 1", nil, []string{"seven"}},
		{"[code] = TRUE", nil, []string{}},
		{"[f] = 1e999", nil, invalid},
		// IN, BETWEEN, LIKE.
		{"[parent_id] IN (?, ?)", []any{"abc", int64(7)}, invalid},
		{"[parent_id] IN (0, 'x')", nil, invalid},
		{"[token] IN (?, ?)", []any{int64(0), false}, []string{"min"}},
		{"[parent_id] BETWEEN ? AND ?", []any{"a", "z"}, invalid},
		{"[token] BETWEEN ? AND ?", []any{int64(0), int64(1)}, []string{"min"}},
		{"[code] LIKE ?", []any{int64(0)}, []string{"min"}},
		{"[parent_id] LIKE ?", []any{"%"}, invalid},
		// Expressions over columns.
		{"UPPER([token]) = ?", []any{int64(0)}, []string{"min"}},
		{"LENGTH([code]) = ?", []any{"2"}, []string{"seven"}}, // characters, not bytes
		{"LENGTH([code]) = ?", []any{"3abc"}, invalid},
		{"ABS([parent_id]) = ?", []any{"abc"}, invalid},
		{"ABS([parent_id]) >= 0", nil, []string{"seven", "zero"}}, // |MinInt64| is no integer: NULL
		{"ABS(-9223372036854775808) IS NULL", nil, []string{"min", "seven", "zero"}},
		{"ABS([f]) > ?", []any{"7"}, []string{"seven"}},
		{"COALESCE([ghost], [parent_id]) = ?", []any{"abc"}, invalid},
		{"COALESCE([ghost], [parent_id]) = ?", []any{7.0}, []string{"seven"}},
		{"LOWER([parent_id]) = ?", []any{"0"}, invalid},
		{"LENGTH([parent_id]) = 1", nil, invalid},
		{"ABS([code]) = 0", nil, invalid},
		// Columns of different types, conditions that are not booleans.
		{"[parent_id] = [code]", nil, invalid},
		{"[parent_id] < [f]", nil, []string{"min", "seven"}},
		{"[approved]", nil, []string{"seven"}},
		{"NOT [approved] AND [f] >= 0", nil, []string{"zero"}},
		{"[code]", nil, invalid},
		{"[meta] = ?", []any{"abc"}, invalid},
		{"[meta] IS NOT NULL", nil, []string{"zero"}},
		// A ? that nothing types, a missing column.
		{"? IS NULL", []any{nil}, invalid},
		{"? = ?", []any{int64(1), int64(1)}, invalid},
		{"? = 1", []any{"1"}, invalid},
		{"1 = 1.0 AND 'x' <> 'y' AND [parent_id] = ?", []any{"7"}, []string{"seven"}},
		{"[ghost] = ?", []any{"abc"}, []string{}},
		{"[ghost] IS NULL AND [parent_id] = ?", []any{7.0}, []string{"seven"}},
	}
	for _, c := range cases {
		n, cerr := b.store.CountEntities(b.ctx, tb, c.where, c.params...)
		l, ferr := b.store.FindEntities(b.ctx, tb, db.Query{Where: c.where, Params: c.params, OrderBy: "[id] ASC"})
		if c.want == invalid {
			if !errors.Is(cerr, db.ErrInvalidQuery) || !errors.Is(ferr, db.ErrInvalidQuery) {
				t.Errorf("%s %v: count %d (%v), find %v (%v); want ErrInvalidQuery", c.where, c.params, n, cerr, ids(l), ferr)
			}
			continue
		}
		want := c.want.([]string)
		if cerr != nil || ferr != nil || n != int64(len(want)) || !reflect.DeepEqual(ids(l), want) {
			t.Errorf("%s %v: count %d (%v), find %v (%v); want %v", c.where, c.params, n, cerr, ids(l), ferr, want)
		}
	}
}

// In a LIKE pattern a backslash escapes %, _ and itself on every database
// (SQLite has no escape character unless told).
func testLikeEscape(t *testing.T, b *bundle) {
	for _, name := range []string{"50%", "50x", "a_b", "axb", `c\d`, `c\xd`} {
		b.save(t, "likes", db.Entity{"name": name})
	}
	for pattern, want := range map[string]string{
		`50\%`:  "50%",
		`a\_b`:  "a_b",
		`c\\\d`: `c\d`,
	} {
		l := b.find(t, "likes", db.Query{Where: "[name] LIKE ?", Params: []any{pattern}})
		if len(l) != 1 || l[0]["name"] != want {
			var got []any
			for _, e := range l {
				got = append(got, e["name"])
			}
			t.Errorf("LIKE %q matched %q, want only %q", pattern, got, want)
		}
	}
	if n := b.count(t, "likes", "[name] LIKE ?", "50%"); n != 2 {
		t.Errorf("LIKE '50%%' counted %d, want 2", n)
	}
}

// Ids a caller chooses fit MySQL's id column on every database: 255 bytes
// are stored, 256 are refused with ErrTypeMismatch before anything is written.
func testLongIDs(t *testing.T, b *bundle) {
	long := strings.Repeat("i", 255)
	if e := b.save(t, "longid", db.Entity{"id": long, "n": int64(1)}); e["id"] != long {
		t.Errorf("255-byte id saved as %v", e["id"])
	}
	_, err := b.store.SaveEntity(b.ctx, "longid", db.Entity{"id": long + "i", "n": int64(2)})
	wantErr(t, err, db.ErrTypeMismatch, "save with a 256-byte id")
	if n := b.count(t, "longid", ""); n != 1 {
		t.Errorf("%d entities after the refused save, want 1", n)
	}
	_, err = b.store.GetEntity(b.ctx, "longid", long+"i")
	wantErr(t, err, db.ErrNotFound, "get with a 256-byte id")
}

// A table whose name differs only in case from an existing one is refused
// with ErrInvalidName on every database (SQLite would take both names for
// one table, Postgres for two), as a field is beside a column; rows never mix.
func testTableNameCase(t *testing.T, b *bundle) {
	b.save(t, "notes", db.Entity{"text": "lower"})
	_, err := b.store.SaveEntity(b.ctx, "Notes", db.Entity{"text": "upper"})
	wantErr(t, err, db.ErrInvalidName, "save into Notes beside notes")
	if l := b.find(t, "notes", db.Query{}); len(l) != 1 || l[0]["text"] != "lower" {
		t.Errorf("table notes holds %v", l)
	}
	if l := b.find(t, "Notes", db.Query{}); len(l) != 0 {
		t.Errorf("reading table Notes gives %v, want nothing", l)
	}
	_, err = b.store.GetEntity(b.ctx, "Notes", b.find(t, "notes", db.Query{})[0]["id"].(string))
	wantErr(t, err, db.ErrNotFound, "get a row of notes through Notes")
	// In a transaction that already used a table (on MySQL the creation
	// then waits for a rerun of the transaction) the check holds too.
	err = b.store.Tx(b.ctx, func(tx *db.Store) error {
		if _, err := tx.SaveEntity(b.ctx, "notes", db.Entity{"text": "in tx"}); err != nil {
			return err
		}
		_, err := tx.SaveEntity(b.ctx, "Notes", db.Entity{"text": "upper in tx"})
		return err
	})
	wantErr(t, err, db.ErrInvalidName, "save into Notes in a transaction")
	if n := b.count(t, "notes", ""); n != 1 {
		t.Errorf("notes holds %d rows after the failed transaction, want 1", n)
	}
}

func testConcurrentSaves(t *testing.T, b *bundle) {
	const workers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e, err := b.store.SaveEntity(b.ctx, "conc", db.Entity{"w": int64(w), "i": int64(i)})
				if err != nil {
					errs <- err
					continue
				}
				if _, err := b.store.SaveEntity(b.ctx, "conc", db.Entity{"id": e["id"], "done": true}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := b.count(t, "conc", "[done] = ?", true); n != workers*each {
		t.Errorf("%d done, want %d", n, workers*each)
	}
}
