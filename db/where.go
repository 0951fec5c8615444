package db

import (
	"fmt"
	"strconv"
	"strings"
)

// The where-clause grammar (keywords and functions are case-insensitive):
//
//	expr      := and { OR and }
//	and       := not { AND not }
//	not       := NOT not | "(" expr ")" | predicate
//	predicate := operand [ cmp operand
//	                     | [NOT] IN "(" operand { "," operand } ")"
//	                     | [NOT] LIKE operand
//	                     | [NOT] BETWEEN operand AND operand
//	                     | IS [NOT] NULL ]
//	operand   := "[" name "]" | "?" | 'string' | ["-"] number
//	           | NULL | TRUE | FALSE | func "(" operand { "," operand } ")"
//	cmp       := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	func      := LOWER | UPPER | COALESCE | LENGTH | ABS
//
// String literals become bound parameters too, so no dialect ever sees a
// quoted value.

type tokType uint8

const (
	tEOF tokType = iota
	tCol
	tParam
	tString
	tNumber
	tMinus
	tKeyword
	tFunc
	tOp
	tLParen
	tRParen
	tComma
)

// token is one lexeme of a where clause. text holds the column name, the
// upper-cased keyword or function, the operator, the number, or the
// unquoted string.
type token struct {
	typ  tokType
	text string
	pos  int
}

var whereKeywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true, "IS": true,
	"NULL": true, "BETWEEN": true, "TRUE": true, "FALSE": true,
}

var whereFuncs = map[string]bool{"LOWER": true, "UPPER": true, "COALESCE": true, "LENGTH": true, "ABS": true}

const (
	maxWhereLen   = 8 << 10
	maxWhereDepth = 32
)

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lexWhere splits a where clause into tokens, refusing anything that is not
// part of the grammar's vocabulary.
func lexWhere(in string) ([]token, error) {
	if len(in) > maxWhereLen {
		return nil, &QueryError{Input: in[:64] + "...", Reason: fmt.Sprintf("where clause longer than %d bytes", maxWhereLen)}
	}
	fail := func(pos, end int, reason string) error {
		if end > len(in) {
			end = len(in)
		}
		return &QueryError{Input: in, Token: in[pos:end], Pos: pos, Reason: reason}
	}
	toks := make([]token, 0, 16)
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '[':
			end := strings.IndexByte(in[i:], ']')
			if end < 0 {
				return nil, fail(i, i+1, "unclosed [")
			}
			name := in[i+1 : i+end]
			if !validName(name) {
				return nil, fail(i, i+end+1, "column name must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$")
			}
			toks = append(toks, token{tCol, name, i})
			i += end + 1
		case c == '?':
			toks = append(toks, token{tParam, "?", i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(in[j:], '\'')
				if k < 0 {
					return nil, fail(i, len(in), "unterminated string")
				}
				b.WriteString(in[j : j+k])
				j += k + 1
				if j < len(in) && in[j] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				break
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j
		case isDigit(c):
			j := i
			for j < len(in) && isDigit(in[j]) {
				j++
			}
			if j < len(in) && in[j] == '.' {
				j++
				if j >= len(in) || !isDigit(in[j]) {
					return nil, fail(i, j, "malformed number")
				}
				for j < len(in) && isDigit(in[j]) {
					j++
				}
			}
			if j < len(in) && (in[j] == 'e' || in[j] == 'E') {
				j++
				if j < len(in) && (in[j] == '+' || in[j] == '-') {
					j++
				}
				if j >= len(in) || !isDigit(in[j]) {
					return nil, fail(i, j, "malformed number")
				}
				for j < len(in) && isDigit(in[j]) {
					j++
				}
			}
			if j < len(in) && (isWordByte(in[j]) || in[j] == '.') {
				return nil, fail(i, j+1, "malformed number")
			}
			toks = append(toks, token{tNumber, in[i:j], i})
			i = j
		case isWordByte(c):
			j := i
			for j < len(in) && isWordByte(in[j]) {
				j++
			}
			w := strings.ToUpper(in[i:j])
			switch {
			case whereKeywords[w]:
				toks = append(toks, token{tKeyword, w, i})
			case whereFuncs[w]:
				toks = append(toks, token{tFunc, w, i})
			default:
				return nil, fail(i, j, "bare identifier (write columns as [name], values as ?)")
			}
			i = j
		case c == '-':
			if i+1 < len(in) && in[i+1] == '-' {
				return nil, fail(i, i+2, "comments are not allowed")
			}
			toks = append(toks, token{tMinus, "-", i})
			i++
		case c == '/' && i+1 < len(in) && in[i+1] == '*':
			return nil, fail(i, i+2, "comments are not allowed")
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '<':
			if i+1 < len(in) && (in[i+1] == '=' || in[i+1] == '>') {
				toks = append(toks, token{tOp, in[i : i+2], i})
				i += 2
			} else {
				toks = append(toks, token{tOp, "<", i})
				i++
			}
		case c == '>':
			if i+1 < len(in) && in[i+1] == '=' {
				toks = append(toks, token{tOp, ">=", i})
				i += 2
			} else {
				toks = append(toks, token{tOp, ">", i})
				i++
			}
		case c == '!' && i+1 < len(in) && in[i+1] == '=':
			toks = append(toks, token{tOp, "<>", i})
			i += 2
		case c == ';':
			return nil, fail(i, i+1, "statement separators are not allowed")
		default:
			// Report the whole rune, not one byte of it.
			end := i + 1
			for end < len(in) && in[end]&0xC0 == 0x80 {
				end++
			}
			return nil, fail(i, end, "character not allowed")
		}
	}
	return toks, nil
}

// whereParser checks a token list against the grammar.
type whereParser struct {
	in     string
	toks   []token
	i      int
	depth  int
	params int
}

func (p *whereParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{typ: tEOF, pos: len(p.in)}
}

func (p *whereParser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *whereParser) isKeyword(w string) bool {
	t := p.peek()
	return t.typ == tKeyword && t.text == w
}

func (p *whereParser) errAt(t token, reason string) error {
	text := ""
	if t.typ != tEOF {
		text = p.in[t.pos:min(len(p.in), t.pos+max(len(t.text), 1))]
		if t.typ == tString {
			end := t.pos + 1
			for end < len(p.in) && !(p.in[end] == '\'' && (end+1 >= len(p.in) || p.in[end+1] != '\'')) {
				if p.in[end] == '\'' {
					end++
				}
				end++
			}
			text = p.in[t.pos:min(len(p.in), end+1)]
		} else if t.typ == tCol {
			text = "[" + t.text + "]"
		}
	}
	return &QueryError{Input: p.in, Token: text, Pos: t.pos, Reason: reason}
}

func (p *whereParser) expect(typ tokType, text, reason string) error {
	t := p.next()
	if t.typ != typ || text != "" && t.text != text {
		return p.errAt(t, reason)
	}
	return nil
}

func (p *whereParser) expr() error {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxWhereDepth {
		return p.errAt(p.peek(), "where clause nested too deeply")
	}
	if err := p.and(); err != nil {
		return err
	}
	for p.isKeyword("OR") {
		p.next()
		if err := p.and(); err != nil {
			return err
		}
	}
	return nil
}

func (p *whereParser) and() error {
	if err := p.not(); err != nil {
		return err
	}
	for p.isKeyword("AND") {
		p.next()
		if err := p.not(); err != nil {
			return err
		}
	}
	return nil
}

func (p *whereParser) not() error {
	if p.isKeyword("NOT") {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxWhereDepth {
			return p.errAt(p.peek(), "where clause nested too deeply")
		}
		return p.not()
	}
	if p.peek().typ == tLParen {
		p.next()
		if err := p.expr(); err != nil {
			return err
		}
		return p.expect(tRParen, "", "expected )")
	}
	return p.predicate()
}

func (p *whereParser) predicate() error {
	if err := p.operand(); err != nil {
		return err
	}
	t := p.peek()
	switch {
	case t.typ == tOp:
		p.next()
		return p.operand()
	case t.typ == tKeyword && t.text == "IS":
		p.next()
		if p.isKeyword("NOT") {
			p.next()
		}
		return p.expect(tKeyword, "NULL", "expected NULL after IS")
	case t.typ == tKeyword && t.text == "NOT":
		p.next()
		if t := p.peek(); t.typ != tKeyword || t.text != "IN" && t.text != "LIKE" && t.text != "BETWEEN" {
			return p.errAt(t, "expected IN, LIKE or BETWEEN after NOT")
		}
		return p.predicateTail()
	case t.typ == tKeyword && (t.text == "IN" || t.text == "LIKE" || t.text == "BETWEEN"):
		return p.predicateTail()
	}
	return nil
}

func (p *whereParser) predicateTail() error {
	switch p.next().text {
	case "IN":
		if err := p.expect(tLParen, "", "expected ( after IN"); err != nil {
			return err
		}
		_, err := p.list()
		return err
	case "LIKE":
		return p.operand()
	default: // BETWEEN
		if err := p.operand(); err != nil {
			return err
		}
		if err := p.expect(tKeyword, "AND", "expected AND in BETWEEN"); err != nil {
			return err
		}
		return p.operand()
	}
}

// list parses operand { "," operand } ")" and returns the operand count.
func (p *whereParser) list() (int, error) {
	for n := 1; ; n++ {
		if err := p.operand(); err != nil {
			return 0, err
		}
		t := p.next()
		if t.typ == tRParen {
			return n, nil
		}
		if t.typ != tComma {
			return 0, p.errAt(t, "expected , or )")
		}
	}
}

func (p *whereParser) operand() error {
	t := p.next()
	switch t.typ {
	case tCol, tString, tNumber:
		return nil
	case tParam:
		p.params++
		return nil
	case tMinus:
		return p.expect(tNumber, "", "expected a number after -")
	case tKeyword:
		if t.text == "NULL" || t.text == "TRUE" || t.text == "FALSE" {
			return nil
		}
	case tFunc:
		if err := p.expect(tLParen, "", "expected ( after "+t.text); err != nil {
			return err
		}
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxWhereDepth {
			return p.errAt(p.peek(), "where clause nested too deeply")
		}
		n, err := p.list()
		switch {
		case err != nil:
			return err
		case t.text == "COALESCE" && n < 2:
			return p.errAt(t, "COALESCE takes two or more arguments")
		case t.text != "COALESCE" && n != 1:
			return p.errAt(t, t.text+" takes one argument")
		}
		return nil
	case tLParen:
		return p.errAt(t, "sub-expressions in parentheses are not values (sub-queries are not allowed)")
	case tEOF:
		return p.errAt(t, "expected a value")
	}
	return p.errAt(t, "expected a value ([column], ?, literal or function)")
}

// parseWhere validates a where clause and returns its tokens and the number
// of ? placeholders in it.
func parseWhere(in string) ([]token, int, error) {
	toks, err := lexWhere(in)
	if err != nil {
		return nil, 0, err
	}
	if len(toks) == 0 {
		return nil, 0, nil
	}
	p := &whereParser{in: in, toks: toks}
	if err := p.expr(); err != nil {
		return nil, 0, err
	}
	if t := p.peek(); t.typ != tEOF {
		return nil, 0, p.errAt(t, "unexpected token")
	}
	return toks, p.params, nil
}

// argRef says where the n-th bound argument of a rewritten clause comes
// from: the caller's params (param >= 0) or a literal (lit), and the kind
// it is compared as (see typeWhere).
type argRef struct {
	param int
	lit   any
	to    kind   // kindNone: NULL (compared with a column the table lacks)
	from  string // what it is compared with, for messages
}

// coerce gives a parameter's normalized value the kind it is compared as,
// or an error matching ErrInvalidQuery when it cannot be one.
func (a argRef) coerce(v any) (any, error) {
	out, ok := asKind(v, a.to)
	if !ok {
		return nil, cannotBe(fmt.Sprintf("? number %d:", a.param+1), v, a.to, a.from)
	}
	return out, nil
}

// whereSQL is a where clause rewritten for one dialect and table.
type whereSQL struct {
	sql     string
	args    []argRef
	params  int  // ? count the caller must supply
	missing bool // a column read as NULL because the table lacked it
}

// minInt64 is the one integer whose absolute value is no integer: ABS
// over integers reads it as NULL instead of failing on every database.
const minInt64 = "-9223372036854775808"

// rewriteWhere types validated tokens against a table's columns (col
// reports a column's kind and whether the table has it; see typeWhere) and
// renders them for dialect d. Columns the table lacks read as NULL;
// literals are written as the kind they are compared as (text is bound);
// placeholders are numbered from first.
func rewriteWhere(d dialect, toks []token, col func(string) (kind, bool), first int) ([]byte, []argRef, error) {
	ty, err := typeWhere(toks, col)
	if err != nil {
		return nil, nil, err
	}
	out := make([]byte, 0, 64)
	var args []argRef
	n, param := first, 0
	escapeAfter := -1 // the last token of a LIKE pattern, followed by the dialect's ESCAPE
	var absEnds []int // the ")" of ABS calls over integers, which close NULLIF too
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if i > 0 {
			out = append(out, ' ')
		}
		if t.typ == tKeyword && t.text == "LIKE" && d.likeEscape() != "" {
			escapeAfter = operandEnd(toks, i+1)
		}
		switch {
		case t.typ == tCol:
			if _, ok := col(t.text); ok {
				out = append(out, d.quote(t.text)...)
			} else {
				out = append(out, "NULL"...)
			}
		case t.typ == tParam:
			out = append(out, d.placeholder(n)...)
			args = append(args, argRef{param: param, to: ty.to[i], from: ty.from[i]})
			n++
			param++
		case t.typ == tString || t.typ == tNumber || t.typ == tMinus || t.typ == tKeyword && (t.text == "TRUE" || t.text == "FALSE"):
			v, last, err := literalValue(toks, i)
			if err != nil {
				return nil, nil, err
			}
			cv, ok := asKind(v, ty.to[i])
			if !ok {
				return nil, nil, cannotBe("literal", v, ty.to[i], ty.from[i])
			}
			switch x := cv.(type) {
			case nil:
				out = append(out, "NULL"...)
			case string:
				out = append(out, d.placeholder(n)...)
				args = append(args, argRef{param: -1, lit: x})
				n++
			case int64:
				out = strconv.AppendInt(out, x, 10)
			case float64:
				out = strconv.AppendFloat(out, x, 'g', -1, 64)
			case bool:
				out = append(out, strings.ToUpper(strconv.FormatBool(x))...)
			}
			i = last
		case t.typ == tFunc && t.text == "LENGTH":
			out = append(out, d.charLength()...)
		case t.typ == tFunc && t.text == "ABS" && ty.absInt[i]:
			out = append(out, "ABS ( NULLIF"...)
			absEnds = append(absEnds, operandEnd(toks, i))
		case t.typ == tRParen && len(absEnds) > 0 && absEnds[len(absEnds)-1] == i:
			out = append(out, ", "+minInt64+" ) )"...)
			absEnds = absEnds[:len(absEnds)-1]
		default:
			out = append(out, t.text...)
		}
		if i == escapeAfter {
			out = append(out, d.likeEscape()...)
		}
	}
	return out, args, nil
}

// operandEnd returns the index of the last token of the operand starting
// at j of a validated clause: a function call ends at its parenthesis, a
// negative number at its digits.
func operandEnd(toks []token, j int) int {
	switch {
	case j >= len(toks):
		return -1
	case toks[j].typ == tMinus:
		return j + 1
	case toks[j].typ == tFunc:
		depth := 0
		for k := j + 1; k < len(toks); k++ {
			switch toks[k].typ {
			case tLParen:
				depth++
			case tRParen:
				if depth--; depth == 0 {
					return k
				}
			}
		}
		return -1
	}
	return j
}

// parseOrderBy validates "[col] [ASC|DESC], ..." and returns the terms.
func parseOrderBy(in string) ([]orderTerm, error) {
	var terms []orderTerm
	rest, pos := in, 0
	for {
		part, tail, more := strings.Cut(rest, ",")
		f := strings.Fields(part)
		bad := func(reason string) error {
			return &QueryError{Input: in, Token: strings.TrimSpace(part), Pos: pos, Reason: reason}
		}
		if len(f) == 0 || len(f) > 2 {
			return nil, bad("order must be [column] [ASC|DESC], ...")
		}
		col := f[0]
		if len(col) < 3 || col[0] != '[' || col[len(col)-1] != ']' || !validName(col[1:len(col)-1]) {
			return nil, bad("order must be [column] [ASC|DESC], ...")
		}
		term := orderTerm{col: col[1 : len(col)-1]}
		if len(f) == 2 {
			switch strings.ToUpper(f[1]) {
			case "ASC":
			case "DESC":
				term.desc = true
			default:
				return nil, bad("order direction must be ASC or DESC")
			}
		}
		terms = append(terms, term)
		if !more {
			return terms, nil
		}
		pos += len(part) + 1
		rest = tail
	}
}

type orderTerm struct {
	col  string
	desc bool
}
