package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRewriteWhere(t *testing.T) {
	has := func(c string) bool { return c != "ghost" }
	cases := []struct {
		in       string
		postgres string
		mysql    string
		args     []argRef
	}{
		{"[a] = ?", `"a" = $1`, "`a` = ?", []argRef{{param: 0}}},
		{"[a] = 'x?y' AND [b] != ?", `"a" = $1 AND "b" <> $2`, "`a` = ? AND `b` <> ?", []argRef{{param: -1, lit: "x?y"}, {param: 0}}},
		{"[ghost] IS NULL or not [a] in (1, -2.5e3)", `NULL IS NULL OR NOT "a" IN ( 1 , - 2.5e3 )`, "NULL IS NULL OR NOT `a` IN ( 1 , - 2.5e3 )", nil},
		{"lower([a]) like 'it''s'", `LOWER ( "a" ) LIKE $1`, "LOWER ( `a` ) LIKE ?", []argRef{{param: -1, lit: "it's"}}},
		{"[a] between ? and ?", `"a" BETWEEN $1 AND $2`, "`a` BETWEEN ? AND ?", []argRef{{param: 0}, {param: 1}}},
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
			out, args := rewriteWhere(d.d, toks, has, 1)
			if string(out) != d.want {
				t.Errorf("%s %q:\n got %s\nwant %s", d.d.name(), c.in, out, d.want)
			}
			if fmt.Sprint(args) != fmt.Sprint(c.args) {
				t.Errorf("%q args = %v, want %v", c.in, args, c.args)
			}
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

// expected is what the rewrite of toks must read back as.
func expected(toks []token, has func(string) bool) []string {
	var out []string
	n := 1
	for _, t := range toks {
		switch t.typ {
		case tCol:
			if has(t.text) {
				out = append(out, "col:"+t.text)
			} else {
				out = append(out, "word:NULL")
			}
		case tParam, tString:
			out = append(out, "param:"+strconv.Itoa(n))
			n++
		case tNumber:
			out = append(out, "num:"+t.text)
		case tKeyword, tFunc:
			out = append(out, "word:"+t.text)
		case tOp:
			out = append(out, "op:"+t.text)
		default:
			out = append(out, t.text)
		}
	}
	return out
}

// FuzzWhere checks that no clause passes validation yet changes the
// structure of the statement it is spliced into. For every accepted input:
//
//   - the Postgres rewrite, read back by an independent lexer, is exactly
//     the input's token sequence with columns quoted (or NULL), every ? and
//     string literal a numbered placeholder, and nothing else: no quote,
//     semicolon or comment can appear;
//   - parentheses balance and never close below the store's own "(", so the
//     clause cannot escape the soft-delete condition;
//   - placeholders and bound arguments agree in number;
//   - SQLite compiles the statement the store would run (EXPLAIN), so the
//     grammar only admits valid SQL.
//
// Every rejected input fails with ErrInvalidQuery, never a panic.
func FuzzWhere(f *testing.F) {
	for _, s := range []string{
		"[a] = ?", "[a] = 'x' OR 1 = 1", "[a] IN (1, 2, ?)", "NOT ([a] LIKE 'x%') AND [b] IS NOT NULL",
		"[a] BETWEEN -1 AND 2.5e3", "LOWER([a]) = UPPER(?)", "COALESCE([ghost], [a], 'z') <> ''",
		"[a] = 'it''s'", "[a] = 1; DROP TABLE t", "[a] = 1 -- x", "[a] = (SELECT 1)", "((([a] = 1)))",
		"[a] = '?' AND [b] = ?", "[a] = \"x\"", "[a] = 1e", "[a] >= 0x10", "LENGTH([a]) > ABS(-3)",
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
	has := func(c string) bool { return c != "ghost" && len(c)%3 != 0 }
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
		out, args := rewriteWhere(postgresDialect{}, toks, has, 1)
		if p := paramPartners(toks); len(p) != params {
			t.Fatalf("%q: %d partners for %d params", in, len(p), params)
		}
		sql := "(" + string(out) + ")"
		got, err := lexOutput(sql)
		if err != nil {
			t.Fatalf("%q -> %s: output does not read back: %v", in, sql, err)
		}
		want := append(append([]string{"("}, expected(toks, has)...), ")")
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%q -> %s:\n read back %v\n want      %v", in, sql, got, want)
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
		placeholders := strings.Count(sql, "$")
		literals := 0
		for _, tk := range toks {
			if tk.typ == tString {
				literals++
			}
		}
		if placeholders != len(args) || params+literals != len(args) {
			t.Fatalf("%q: %d placeholders, %d args, %d params + %d literals", in, placeholders, len(args), params, literals)
		}
		if !utf8.ValidString(in) {
			return // SQLite would reject the invalid UTF-8 of a literal we bind as text anyway
		}
		sq, sargs := rewriteWhere(sqliteDialect{}, toks, has, 1)
		bound := make([]any, len(sargs))
		for i, a := range sargs {
			if a.param < 0 {
				bound[i] = a.lit
			} else {
				bound[i] = int64(a.param)
			}
		}
		stmt := `EXPLAIN SELECT * FROM "t" WHERE (` + string(sq) + `) AND "deleted_at" IS NULL`
		rows, err := s.c.r.Query(stmt, bound...)
		if err != nil {
			if strings.Contains(err.Error(), "syntax error") || strings.Contains(err.Error(), "incomplete input") {
				t.Fatalf("%q: SQLite cannot compile %s: %v", in, stmt, err)
			}
			return // e.g. "no such column" for names the fake table lacks
		}
		rows.Close()
	})
}

func TestParamPartners(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"[a] = ?", []string{"a"}},
		{"? = [a]", []string{"a"}},
		{"? = ?", []string{"", ""}},
		{"[a] LIKE ? OR [b] NOT LIKE ?", []string{"a", "b"}},
		{"[a] IN (?, 1, ?) AND [b] NOT IN (-1, ?)", []string{"a", "a", "b"}},
		{"[a] BETWEEN ? AND ? AND [b] NOT BETWEEN 1 AND ?", []string{"a", "a", "b"}},
		{"[a] BETWEEN 1 AND 2 AND ? = [b]", []string{"b"}},
		{"[a] = 1 AND ? <> [b]", []string{"b"}},
		{"LOWER([a]) = ?", []string{""}},
		{"COALESCE([a], ?) = ?", []string{"", ""}},
		{"[a] IN (?, LOWER(?))", []string{"a", ""}},
		{"? IN ([a], 1)", []string{""}},
		{"NOT ([a] >= ?) OR [b] IS NULL", []string{"a"}},
	}
	for _, c := range cases {
		toks, _, err := parseWhere(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := paramPartners(toks); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q: partners %q, want %q", c.in, got, c.want)
		}
	}
}

// On SQLite a LIKE pattern is followed by ESCAPE '\', so that a backslash
// escapes % and _ as it does by default on Postgres and MySQL.
func TestRewriteWhereLikeEscapeOnSQLite(t *testing.T) {
	has := func(string) bool { return true }
	for in, want := range map[string]string{
		"[a] LIKE ?": `"a" LIKE ? ESCAPE '\'`,
		"LOWER([b]) NOT LIKE LOWER(?) OR [c] LIKE -1":  `LOWER ( "b" ) NOT LIKE LOWER ( ? ) ESCAPE '\' OR "c" LIKE - 1 ESCAPE '\'`,
		"[a] LIKE COALESCE([b], LOWER(?)) AND [d] = ?": `"a" LIKE COALESCE ( "b" , LOWER ( ? ) ) ESCAPE '\' AND "d" = ?`,
	} {
		toks, _, err := parseWhere(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if out, _ := rewriteWhere(sqliteDialect{}, toks, has, 1); string(out) != want {
			t.Errorf("%q:\n got %s\nwant %s", in, out, want)
		}
		if out, _ := rewriteWhere(postgresDialect{}, toks, has, 1); strings.Contains(string(out), "ESCAPE") {
			t.Errorf("%q: Postgres rewrite %s has an ESCAPE", in, out)
		}
	}
}
