package db

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// whereCols is the table of the where-clause unit tests: a, i integer,
// b text, f float, ok bool, j JSON; every other column is missing.
func whereCols(c string) (kind, bool) {
	k, ok := map[string]kind{"a": kindInt, "i": kindInt, "b": kindText, "f": kindFloat, "ok": kindBool, "j": kindJSON}[c]
	return k, ok
}

func TestRewriteWhere(t *testing.T) {
	cases := []struct {
		in       string
		postgres string
		mysql    string
		args     []argRef
	}{
		{"[a] = ?", `"a" = $1`, "`a` = ?", []argRef{{param: 0, to: kindInt, from: "[a]"}}},
		{"[b] = 'x?y' AND [a] != ?", `"b" = $1 AND "a" <> $2`, "`b` = ? AND `a` <> ?", []argRef{{param: -1, lit: "x?y"}, {param: 0, to: kindInt, from: "[a]"}}},
		{"[ghost] IS NULL or not [a] in (1, -2.5e3)", `NULL IS NULL OR NOT "a" IN ( 1 , -2500 )`, "NULL IS NULL OR NOT `a` IN ( 1 , -2500 )", nil},
		{"lower([b]) like 'it''s'", `LOWER ( "b" ) LIKE $1`, "LOWER ( `b` ) LIKE ?", []argRef{{param: -1, lit: "it's"}}},
		{"[a] between ? and ?", `"a" BETWEEN $1 AND $2`, "`a` BETWEEN ? AND ?", []argRef{{param: 0, to: kindInt, from: "[a]"}, {param: 1, to: kindInt, from: "[a]"}}},
		// Literals are written as the kind of what they are compared with.
		{"[b] = 0", `"b" = $1`, "`b` = ?", []argRef{{param: -1, lit: "0"}}},
		{"[a] = '7' OR [f] > 1e21", `"a" = 7 OR "f" > 1e+21`, "`a` = 7 OR `f` > 1e+21", nil},
		{"[ok] = 1 AND [ghost] = 'x'", `"ok" = TRUE AND NULL = NULL`, "`ok` = TRUE AND NULL = NULL", nil},
		{"[ghost] = ?", `NULL = $1`, "NULL = ?", []argRef{{param: 0, to: kindNone, from: "a missing column"}}},
		// ABS of the smallest integer is NULL, not an overflow.
		{"ABS([a]) > ABS([f])", `ABS ( NULLIF ( "a" , -9223372036854775808 ) ) > ABS ( "f" )`, "ABS ( NULLIF ( `a` , -9223372036854775808 ) ) > ABS ( `f` )", nil},
		{"LENGTH([b]) = 3", `LENGTH ( "b" ) = 3`, "CHAR_LENGTH ( `b` ) = 3", nil},
	}
	for _, c := range cases {
		toks, _, err := parseWhere(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		for _, d := range []struct {
			d    dialect
			want string
		}{{postgresDialect{}, c.postgres}, {mysqlDialect{}, c.mysql}} {
			out, args, err := rewriteWhere(d.d, toks, whereCols, 1)
			if err != nil {
				t.Fatalf("%s %q: %v", d.d.name(), c.in, err)
			}
			if string(out) != d.want {
				t.Errorf("%s %q:\n got %s\nwant %s", d.d.name(), c.in, out, d.want)
			}
			if !reflect.DeepEqual(args, c.args) {
				t.Errorf("%q args = %+v, want %+v", c.in, args, c.args)
			}
		}
	}
}

// A value takes the kind of what it is compared with: a column, an
// expression over one, or else the literal beside it.
func TestValueKinds(t *testing.T) {
	cases := []struct {
		in   string
		want []kind // the kind each ? is compared as
	}{
		{"[a] = ?", []kind{kindInt}},
		{"? = [a]", []kind{kindInt}},
		{"[b] LIKE ? OR [b] NOT LIKE ?", []kind{kindText, kindText}},
		{"[a] IN (?, 1, ?) AND [b] NOT IN (-1, ?)", []kind{kindInt, kindInt, kindText}},
		{"[a] BETWEEN ? AND ? AND [b] NOT BETWEEN 1 AND ?", []kind{kindInt, kindInt, kindText}},
		{"[a] BETWEEN 1 AND 2 AND ? = [b]", []kind{kindText}},
		{"[a] = 1 AND ? <> [b]", []kind{kindText}},
		{"LOWER([b]) = ?", []kind{kindText}},
		{"LOWER(?) = [b]", []kind{kindText}},
		{"COALESCE([a], ?) = ?", []kind{kindInt, kindInt}},
		{"[b] IN (?, LOWER(?))", []kind{kindText, kindText}},
		{"? IN ([a], 1)", []kind{kindInt}},
		{"NOT ([a] >= ?) OR [b] IS NULL", []kind{kindInt}},
		{"LENGTH([b]) > ?", []kind{kindInt}},
		{"LENGTH(?) > 2", []kind{kindText}},
		{"ABS(?) > [f]", []kind{kindFloat}},
		{"? = [f] OR 1 = 1", []kind{kindFloat}},
		{"[a] = [f] AND ? IN ([a], [f])", []kind{kindFloat}},
		{"? AND [ok]", []kind{kindBool}},
		{"[ghost] = ?", []kind{kindNone}},
		{"COALESCE([ghost], ?) = [b]", []kind{kindText}},
	}
	for _, c := range cases {
		toks, _, err := parseWhere(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		_, args, err := rewriteWhere(postgresDialect{}, toks, whereCols, 1)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		var got []kind
		for _, a := range args {
			if a.param >= 0 {
				got = append(got, a.to)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: ? kinds %v, want %v", c.in, got, c.want)
		}
	}
}

// Clauses in the grammar that cannot be typed against the table are
// ErrInvalidQuery before any database sees them, on every dialect alike.
func TestRewriteWhereRefusesMistypedClauses(t *testing.T) {
	for _, in := range []string{
		"? = ?",                  // nothing tells the type
		"? IS NULL",              //
		"COALESCE(?, ?) = ?",     //
		"? = 1",                  // (Postgres would make it a 32-bit integer)
		"ABS(?) IN (1, 2)",       //
		"LOWER([a]) = ?",         // LOWER of a number
		"LENGTH([a]) = 1",        //
		"ABS([b]) = 1",           // ABS of text
		"ABS('x') = 1",           //
		"[a] LIKE ?",             // LIKE over a number
		"[a] = [b]",              // two kinds
		"COALESCE([a], [b]) = 1", //
		"[j] = ?",                // JSON
		"[j] = [j]",              //
		"[b]",                    // a condition that is not a boolean
		"2",                      //
		"[a] = 2.5",              // literals that cannot be the kind
		"[a] = 'abc'",            //
		"[a] = '7abc'",           //
		"[ok] = 2",               //
		"[ok] = 'abc'",           //
		"[f] = 1e999",            // out of range
		"[a] IN (1, 'x')",        //
	} {
		toks, _, err := parseWhere(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if _, _, err := rewriteWhere(postgresDialect{}, toks, whereCols, 1); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%q: error %v, want ErrInvalidQuery", in, err)
		}
	}
}

// A parameter is compared as the kind it is compared with; one that
// cannot be that kind is ErrInvalidQuery.
func TestCoerce(t *testing.T) {
	ok := []struct {
		v    any
		to   kind
		want any
	}{
		{int64(0), kindText, "0"}, {2.5, kindText, "2.5"}, {true, kindText, "true"},
		{"7", kindInt, int64(7)}, {"-7", kindInt, int64(-7)}, {"7.0", kindInt, int64(7)}, {2.0, kindInt, int64(2)}, {true, kindInt, int64(1)},
		{"2.5", kindFloat, 2.5}, {int64(2), kindFloat, 2.0}, {"1e3", kindFloat, 1000.0},
		{"true", kindBool, true}, {"0", kindBool, false}, {int64(1), kindBool, true}, {0.0, kindBool, false},
		{"anything", kindNone, nil}, {nil, kindInt, nil},
	}
	for _, c := range ok {
		got, err := argRef{to: c.to}.coerce(c.v)
		if err != nil || got != c.want {
			t.Errorf("%#v as %s = %#v, %v; want %#v", c.v, c.to, got, err, c.want)
		}
	}
	for _, c := range []struct {
		v  any
		to kind
	}{
		{"abc", kindInt}, {"7abc", kindInt}, {" 7", kindInt}, {"0x7", kindInt}, {"", kindInt}, {"2.5", kindInt}, {2.5, kindInt},
		{1e19, kindInt}, {"9223372036854775808", kindInt}, {"inf", kindFloat}, {"NaN", kindFloat}, {"1e999", kindFloat}, {"1_000", kindFloat},
		{"abc", kindBool}, {"TRUE", kindBool}, {int64(2), kindBool}, {0.5, kindBool},
		{jsonValue{raw: "{}"}, kindText},
	} {
		if got, err := (argRef{to: c.to, from: "[x]"}).coerce(c.v); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%#v as %s = %#v, %v; want ErrInvalidQuery", c.v, c.to, got, err)
		}
	}
}

func TestParseWhereRejects(t *testing.T) {
	cases := []struct{ in, token string }{
		{"[a] = 1; DROP TABLE x", ";"},
		{"[a] = 1 -- x", "--"},
		{"[a] = 1 /* x */", "/*"},
		{"a = 1", "a"},
		{"[a] = (SELECT 1)", "SELECT"},
		{"[a] = ([b])", "("},
		{"[a] = 'x", "'x"},
		{"[a] = \"x\"", "\""},
		{"[a]] = 1", "]"},
		{"[a] = 1 é", "é"},
		{"sleep(1) = 0", "sleep"},
		{"[a] = ", ""},
		{"[a] IS 1", "1"},
		{"LOWER([a], [b]) = 'x'", "LOWER"},
		{"COALESCE([a]) = 1", "COALESCE"},
		{"ABS() = 1", ")"},
	}
	for _, c := range cases {
		_, _, err := parseWhere(c.in)
		var qe *QueryError
		if !errors.As(err, &qe) || !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%q: error %v, want a QueryError", c.in, err)
			continue
		}
		if qe.Token != c.token {
			t.Errorf("%q: token %q at %d, want %q", c.in, qe.Token, qe.Pos, c.token)
		}
	}
}

// outTok is a token of rewritten SQL, read back by a lexer that shares no
// code with the validator.
func lexOutput(sql string) ([]string, error) {
	var out []string
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ':
			i++
		case c == '"':
			j := strings.IndexByte(sql[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unclosed identifier at %d", i)
			}
			name := sql[i+1 : i+1+j]
			if !validName(name) {
				return nil, fmt.Errorf("bad identifier %q", name)
			}
			out = append(out, "col:"+name)
			i += j + 2
		case c == '$':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			out = append(out, "param:"+sql[i+1:j])
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' ||
				(sql[j] == '+' || sql[j] == '-') && (sql[j-1] == 'e' || sql[j-1] == 'E')) {
				j++
			}
			if _, err := strconv.ParseFloat(sql[i:j], 64); err != nil && !strings.Contains(err.Error(), "range") {
				return nil, fmt.Errorf("bad number %q", sql[i:j])
			}
			out = append(out, "num:"+sql[i:j])
			i = j
		case c >= 'A' && c <= 'Z':
			j := i
			for j < len(sql) && sql[j] >= 'A' && sql[j] <= 'Z' {
				j++
			}
			out = append(out, "word:"+sql[i:j])
			i = j
		case strings.IndexByte("()-,", c) >= 0:
			out = append(out, string(c))
			i++
		case c == '<' || c == '>' || c == '=':
			j := i + 1
			if j < len(sql) && (sql[j] == '=' || c == '<' && sql[j] == '>') {
				j++
			}
			out = append(out, "op:"+sql[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return out, nil
}

// expected is what the rewrite of toks, typed as ty, must read back as:
// the same tokens, values reduced to their class (a placeholder, a
// number, a boolean or NULL) and ABS over integers wrapping NULLIF.
func expected(toks []token, ty whereTypes, has func(string) bool) []string {
	var out []string
	n := 1
	var absEnds []int
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		value := t.typ == tParam || t.typ == tString || t.typ == tNumber || t.typ == tMinus ||
			t.typ == tKeyword && (t.text == "TRUE" || t.text == "FALSE")
		switch {
		case t.typ == tCol && !has(t.text), t.typ == tKeyword && t.text == "NULL", value && ty.to[i] == kindNone && t.typ != tParam:
			out = append(out, "word:NULL")
		case t.typ == tCol:
			out = append(out, "col:"+t.text)
		case t.typ == tParam || value && ty.to[i] == kindText:
			out = append(out, "param:"+strconv.Itoa(n))
			n++
		case value && ty.to[i] == kindBool:
			out = append(out, "bool")
		case value:
			out = append(out, "num")
		case t.typ == tFunc && t.text == "ABS" && ty.absInt[i]:
			out = append(out, "word:ABS", "(", "word:NULLIF")
			absEnds = append(absEnds, operandEnd(toks, i))
		case t.typ == tRParen && len(absEnds) > 0 && absEnds[len(absEnds)-1] == i:
			out = append(out, ",", "num", ")", ")")
			absEnds = absEnds[:len(absEnds)-1]
		case t.typ == tKeyword, t.typ == tFunc:
			out = append(out, "word:"+t.text)
		case t.typ == tOp:
			out = append(out, "op:"+t.text)
		default:
			out = append(out, t.text)
		}
		if t.typ == tMinus {
			i++
		}
	}
	return out
}

// classes reduces read-back numbers (with their sign) and booleans to
// their class, as expected does.
func classes(got []string) []string {
	out := got[:0:0]
	for _, g := range got {
		switch {
		case g == "-":
		case strings.HasPrefix(g, "num:"):
			out = append(out, "num")
		case g == "word:TRUE" || g == "word:FALSE":
			out = append(out, "bool")
		default:
			out = append(out, g)
		}
	}
	return out
}

// fuzzCols is the table of FuzzWhere: a text, b integer, c float, d bool,
// e JSON; other names by their length, some missing.
func fuzzCols(c string) (kind, bool) {
	if k, ok := map[string]kind{"a": kindText, "b": kindInt, "c": kindFloat, "d": kindBool, "e": kindJSON}[c]; ok {
		return k, true
	}
	if c == "ghost" || len(c)%3 == 0 {
		return kindNone, false
	}
	return []kind{kindText, kindInt, kindFloat, kindBool}[len(c)%4], true
}

// FuzzWhere checks that no clause passes validation yet changes the
// structure of the statement it is spliced into. For every accepted input
// that types against the table (else the error is ErrInvalidQuery):
//
//   - the Postgres rewrite, read back by an independent lexer, is exactly
//     the input's token sequence with columns quoted (or NULL), every ?
//     and text a numbered placeholder, numbers and booleans written from
//     their values, and nothing else: no quote, semicolon or comment can
//     appear;
//   - parentheses balance and never close below the store's own "(", so the
//     clause cannot escape the soft-delete condition;
//   - placeholders and bound arguments agree in number;
//   - SQLite compiles the statement the store would run (EXPLAIN), so the
//     grammar only admits valid SQL.
//
// Every rejected input fails with ErrInvalidQuery, never a panic. What the
// databases answer is FuzzWhereOnEveryDatabase's part (db_test).
func FuzzWhere(f *testing.F) {
	for _, s := range []string{
		"[a] = ?", "[a] = 'x' OR 1 = 1", "[b] IN (1, 2, ?)", "NOT ([a] LIKE 'x%') AND [b] IS NOT NULL",
		"[b] BETWEEN -1 AND 2.5e3", "LOWER([a]) = UPPER(?)", "COALESCE([ghost], [a], 'z') <> ''",
		"[a] = 'it''s'", "[a] = 1; DROP TABLE t", "[a] = 1 -- x", "[a] = (SELECT 1)", "((([a] = 1)))",
		"[a] = '?' AND [b] = ?", "[a] = \"x\"", "[a] = 1e", "[a] >= 0x10", "LENGTH([a]) > ABS(-3)",
		"ABS([b]) > ABS(-9223372036854775808)", "[d] = 1 OR [c] > 1e300", "[a] = 0",
	} {
		f.Add(s)
	}
	s, err := Open(context.Background(), "sqlite://:memory:")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if _, err := s.SaveEntity(context.Background(), "t", Entity{"a": "x", "b": int64(1), "c": 1.5, "d": true}); err != nil {
		f.Fatal(err)
	}
	has := func(c string) bool { _, ok := fuzzCols(c); return ok }
	f.Fuzz(func(t *testing.T, in string) {
		toks, params, err := parseWhere(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("%q: error %v does not match ErrInvalidQuery", in, err)
			}
			var qe *QueryError
			if errors.As(err, &qe) && (qe.Pos < 0 || qe.Pos > len(in)) {
				t.Fatalf("%q: position %d out of range", in, qe.Pos)
			}
			return
		}
		if len(toks) == 0 {
			return
		}
		out, args, err := rewriteWhere(postgresDialect{}, toks, fuzzCols, 1)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("%q: error %v does not match ErrInvalidQuery", in, err)
			}
			return
		}
		ty, err := typeWhere(toks, fuzzCols)
		if err != nil {
			t.Fatalf("%q: rendered, yet typing fails: %v", in, err)
		}
		sql := "(" + string(out) + ")"
		got, err := lexOutput(sql)
		if err != nil {
			t.Fatalf("%q -> %s: output does not read back: %v", in, sql, err)
		}
		want := append(append([]string{"("}, expected(toks, ty, has)...), ")")
		if strings.Join(classes(got), " ") != strings.Join(want, " ") {
			t.Fatalf("%q -> %s:\n read back %v\n want      %v", in, sql, classes(got), want)
		}
		depth := 0
		for i, tk := range got {
			switch tk {
			case "(":
				depth++
			case ")":
				depth--
				if depth == 0 && i != len(got)-1 {
					t.Fatalf("%q -> %s: closes the store's parenthesis early", in, sql)
				}
			}
		}
		if depth != 0 {
			t.Fatalf("%q -> %s: unbalanced parentheses", in, sql)
		}
		bound := 0
		for _, a := range args {
			if a.param >= 0 {
				bound++
			}
		}
		if placeholders := strings.Count(sql, "$"); placeholders != len(args) || bound != params {
			t.Fatalf("%q: %d placeholders, %d args, %d of them params, %d ?", in, placeholders, len(args), bound, params)
		}
		if !utf8.ValidString(in) {
			return // SQLite would reject the invalid UTF-8 of a literal we bind as text anyway
		}
		sq, sargs, err := rewriteWhere(sqliteDialect{}, toks, fuzzCols, 1)
		if err != nil {
			t.Fatalf("%q: SQLite rewrite fails where Postgres' did not: %v", in, err)
		}
		bound2 := make([]any, len(sargs))
		for i, a := range sargs {
			if a.param < 0 {
				bound2[i] = a.lit
			} else {
				bound2[i] = int64(a.param)
			}
		}
		stmt := `EXPLAIN SELECT * FROM "t" WHERE (` + string(sq) + `) AND "deleted_at" IS NULL`
		rows, err := s.c.r.Query(stmt, bound2...)
		if err != nil {
			if strings.Contains(err.Error(), "syntax error") || strings.Contains(err.Error(), "incomplete input") ||
				strings.Contains(err.Error(), "wrong number of arguments") {
				t.Fatalf("%q: SQLite cannot compile %s: %v", in, stmt, err)
			}
			return // e.g. "no such column" for names the fake table lacks
		}
		rows.Close()
	})
}

// On SQLite a LIKE pattern is followed by ESCAPE '\', so that a backslash
// escapes % and _ as it does by default on Postgres and MySQL.
func TestRewriteWhereLikeEscapeOnSQLite(t *testing.T) {
	has := func(string) (kind, bool) { return kindText, true }
	for in, want := range map[string]string{
		"[a] LIKE ?": `"a" LIKE ? ESCAPE '\'`,
		"LOWER([b]) NOT LIKE LOWER(?) OR [c] LIKE -1":  `LOWER ( "b" ) NOT LIKE LOWER ( ? ) ESCAPE '\' OR "c" LIKE ? ESCAPE '\'`,
		"[a] LIKE COALESCE([b], LOWER(?)) AND [d] = ?": `"a" LIKE COALESCE ( "b" , LOWER ( ? ) ) ESCAPE '\' AND "d" = ?`,
	} {
		toks, _, err := parseWhere(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if out, _, err := rewriteWhere(sqliteDialect{}, toks, has, 1); err != nil || string(out) != want {
			t.Errorf("%q:\n got %s (%v)\nwant %s", in, out, err, want)
		}
		if out, _, _ := rewriteWhere(postgresDialect{}, toks, has, 1); strings.Contains(string(out), "ESCAPE") {
			t.Errorf("%q: Postgres rewrite %s has an ESCAPE", in, out)
		}
	}
}
