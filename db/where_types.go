package db

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// A where clause is typed against the table it runs on before it is
// rendered, so that the three databases compare alike. The rule:
//
//   - a column has its kind; LOWER and UPPER are text, LENGTH an integer,
//     ABS and COALESCE the kind of their arguments;
//   - a value (?, a literal) takes the kind of the column or expression it
//     is compared with (=, <>, <, IN, BETWEEN, LIKE, an argument of
//     COALESCE, LOWER, ...); a bare condition is a boolean; literals
//     compared with literals only keep their own kind; a ? compared with
//     no column is refused (Postgres would guess its type from a literal:
//     ? = 1 makes it a 32-bit integer);
//   - a value that cannot be that kind ('abc' as an integer, 2.5 as an
//     integer, 2 as a boolean) is ErrInvalidQuery, and so are two columns
//     or expressions of different kinds (integer and float mix), LIKE over
//     anything but text, a function over the wrong kind, a JSON column in
//     anything but IS NULL;
//   - a value compared with a column the table lacks is NULL, as the
//     column reads.
//
// Without this MySQL converts text to a number to compare it with one
// ('abc' = 0, '7abc' = 7) and Postgres refuses the statement.

// group is the type of an operand, or of operands compared with each
// other, while a predicate is typed.
type group struct {
	k     kind   // the kind, when known (a column or a function fixed it)
	known bool   // k is set
	null  bool   // holds NULL (a missing column, NULL) and nothing typed
	lit   kind   // the kind of the literals among vals, when not known
	num   bool   // must be a number (an argument of ABS)
	from  string // what fixed the kind, for messages
	vals  []int  // value tokens that take the kind
	abs   []int  // ABS tokens over vals, which need to know if it is integer
}

// whereTypes is a clause typed against one table: per token, the kind a
// value token is compared as (kindNone: NULL) and what it is compared with,
// and whether an ABS token applies to an integer.
type whereTypes struct {
	to     []kind
	from   []string
	absInt []bool
}

type typer struct {
	toks []token
	i    int
	col  func(string) (kind, bool)
	whereTypes
}

// typeWhere types validated tokens against a table's columns (col reports
// a column's kind and whether the table has it).
func typeWhere(toks []token, col func(string) (kind, bool)) (whereTypes, error) {
	ty := &typer{toks: toks, col: col, whereTypes: whereTypes{
		to: make([]kind, len(toks)), from: make([]string, len(toks)), absInt: make([]bool, len(toks)),
	}}
	if len(toks) == 0 {
		return ty.whereTypes, nil
	}
	if err := ty.expr(); err != nil {
		return whereTypes{}, err
	}
	return ty.whereTypes, nil
}

func (ty *typer) peek() token {
	if ty.i < len(ty.toks) {
		return ty.toks[ty.i]
	}
	return token{typ: tEOF}
}

func (ty *typer) next() token { t := ty.peek(); ty.i++; return t }

func (ty *typer) kw(w string) bool { t := ty.peek(); return t.typ == tKeyword && t.text == w }

func (ty *typer) expr() error { return ty.joined("OR", ty.and) }

func (ty *typer) and() error { return ty.joined("AND", ty.not) }

// joined types one or more of next, joined by the keyword w.
func (ty *typer) joined(w string, next func() error) error {
	for {
		if err := next(); err != nil {
			return err
		}
		if !ty.kw(w) {
			return nil
		}
		ty.next()
	}
}

func (ty *typer) not() error {
	switch {
	case ty.kw("NOT"):
		ty.next()
		return ty.not()
	case ty.peek().typ == tLParen:
		ty.next()
		if err := ty.expr(); err != nil {
			return err
		}
		ty.next() // )
		return nil
	}
	return ty.predicate()
}

func textGroup(what string) group { return group{k: kindText, known: true, from: what} }

func (ty *typer) predicate() error {
	g, err := ty.operand()
	if err != nil {
		return err
	}
	gs := []group{g}
	t := ty.peek()
	switch {
	case t.typ == tOp:
		ty.next()
		gs, err = ty.more(gs)
	case t.typ == tKeyword && t.text == "IS":
		ty.next()
		if ty.kw("NOT") {
			ty.next()
		}
		ty.next() // NULL
	case t.typ == tKeyword && (t.text == "NOT" || t.text == "IN" || t.text == "LIKE" || t.text == "BETWEEN"):
		if t.text == "NOT" {
			ty.next()
		}
		switch ty.next().text {
		case "IN":
			ty.next() // (
			for err == nil {
				if gs, err = ty.more(gs); err == nil && ty.next().typ == tRParen {
					break
				}
			}
		case "LIKE":
			gs, err = ty.more(gs)
			gs = append(gs, textGroup("a LIKE pattern"))
		default: // BETWEEN
			if gs, err = ty.more(gs); err == nil {
				ty.next() // AND
				gs, err = ty.more(gs)
			}
		}
	default:
		gs = append(gs, group{k: kindBool, known: true, from: "a condition"})
	}
	if err != nil {
		return err
	}
	if g, err = ty.unifyAll(gs); err != nil {
		return err
	}
	return ty.settle(g)
}

// more appends the next operand's group to gs.
func (ty *typer) more(gs []group) ([]group, error) {
	g, err := ty.operand()
	return append(gs, g), err
}

// unifyAll unifies the groups of operands compared with each other: the
// known kinds first, so that every value takes their common kind.
func (ty *typer) unifyAll(gs []group) (group, error) {
	slices.SortStableFunc(gs, func(a, b group) int {
		switch {
		case a.known == b.known:
			return 0
		case a.known:
			return -1
		}
		return 1
	})
	g := gs[0]
	for _, o := range gs[1:] {
		var err error
		if g, err = ty.unify(g, o); err != nil {
			return group{}, err
		}
	}
	return g, nil
}

func (ty *typer) operand() (group, error) {
	i := ty.i
	t := ty.next()
	switch t.typ {
	case tCol:
		k, ok := ty.col(t.text)
		if !ok {
			return group{null: true}, nil
		}
		return group{k: k, known: true, from: "[" + t.text + "]"}, nil
	case tParam:
		return group{vals: []int{i}}, nil
	case tString:
		return group{vals: []int{i}, lit: kindText}, nil
	case tMinus:
		n := ty.next()
		return group{vals: []int{i}, lit: numberKind("-" + n.text)}, nil
	case tNumber:
		return group{vals: []int{i}, lit: numberKind(t.text)}, nil
	case tKeyword:
		if t.text == "NULL" {
			return group{null: true}, nil
		}
		return group{vals: []int{i}, lit: kindBool}, nil // TRUE, FALSE
	}
	// A function call (the parser checked its argument count).
	ty.next() // (
	var args []group
	for {
		a, err := ty.operand()
		if err != nil {
			return group{}, err
		}
		args = append(args, a)
		if ty.next().typ == tRParen {
			break
		}
	}
	switch t.text {
	case "LOWER", "UPPER", "LENGTH":
		if _, err := ty.unify(args[0], textGroup(t.text+"(…)'s argument")); err != nil {
			return group{}, err
		}
		if t.text == "LENGTH" {
			return group{k: kindInt, known: true, from: "LENGTH(…)"}, nil
		}
		return textGroup(t.text + "(…)"), nil
	case "ABS":
		a := args[0]
		switch {
		case a.known && a.k != kindInt && a.k != kindFloat:
			return group{}, invalidQuery("ABS takes a number, not %s (%s)", a.from, a.k)
		case a.known:
			ty.absInt[i] = a.k == kindInt
			a.from = "ABS(…)"
		default:
			a.num = true
			a.abs = append(a.abs, i)
		}
		return a, nil
	}
	return ty.unifyAll(args) // COALESCE
}

// numberKind is the kind of a number literal: integer when it has no
// fraction or exponent and fits 64 bits, float otherwise.
func numberKind(text string) kind {
	if _, err := strconv.ParseInt(text, 10, 64); err == nil {
		return kindInt
	}
	return kindFloat
}

// commonKind is the kind two kinds are compared as: integers and floats
// compare as numbers; JSON compares with nothing.
func commonKind(a, b kind) (kind, bool) {
	switch {
	case a == b && a != kindJSON:
		return a, true
	case a == kindInt && b == kindFloat, a == kindFloat && b == kindInt:
		return kindFloat, true
	}
	return kindNone, false
}

func (ty *typer) unify(a, b group) (group, error) {
	switch {
	case a.known && b.known:
		k, ok := commonKind(a.k, b.k)
		if !ok {
			return group{}, mismatch(a, b)
		}
		return group{k: k, known: true, from: a.from}, nil
	case a.known:
		return a, ty.assign(b, a.k, a.from)
	case b.known:
		return b, ty.assign(a, b.k, b.from)
	}
	lit := a.lit
	switch {
	case lit == kindNone:
		lit = b.lit
	case b.lit != kindNone:
		if k, ok := commonKind(a.lit, b.lit); ok {
			lit = k
		}
	}
	return group{
		null: a.null || b.null, lit: lit, num: a.num || b.num,
		vals: append(a.vals, b.vals...), abs: append(a.abs, b.abs...),
	}, nil
}

func mismatch(a, b group) error {
	if a.k == kindJSON || b.k == kindJSON {
		c := a
		if b.k == kindJSON {
			c = b
		}
		return invalidQuery("%s holds JSON, which a where clause can only test with IS NULL", c.from)
	}
	return invalidQuery("%s (%s) cannot be compared with %s (%s)", a.from, a.k, b.from, b.k)
}

// assign gives the values of g kind k, fixed by from.
func (ty *typer) assign(g group, k kind, from string) error {
	if k == kindJSON && len(g.vals) > 0 {
		return invalidQuery("%s holds JSON, which a where clause can only test with IS NULL", from)
	}
	if g.num && k != kindInt && k != kindFloat && k != kindNone {
		return invalidQuery("ABS takes a number, but its argument is compared with %s (%s)", from, k)
	}
	for _, i := range g.vals {
		ty.to[i], ty.from[i] = k, from
	}
	for _, i := range g.abs {
		ty.absInt[i] = k == kindInt
	}
	return nil
}

// settle gives the values of a predicate that no column typed a kind:
// NULL beside a missing column, else the kind of its literals.
func (ty *typer) settle(g group) error {
	switch {
	case g.known || len(g.vals) == 0:
		return nil
	case g.null:
		return ty.assign(g, kindNone, "a missing column")
	}
	for _, i := range g.vals {
		if ty.toks[i].typ == tParam {
			n := 0
			for _, t := range ty.toks[:i+1] {
				if t.typ == tParam {
					n++
				}
			}
			return invalidQuery("? number %d is compared with no column: compare each ? with a column or an expression over one, which gives it its type", n)
		}
	}
	return ty.assign(g, g.lit, "") // literals only: 1 = 1
}

// asKind returns the normalized value v as a value of kind k (kindNone:
// NULL), and false when it cannot be one. Text is the number or boolean it
// spells; numbers and booleans are text as they print; 1 and 0 are true and
// false; a fraction is no integer. A value already of kind k is returned as
// is, without a new allocation.
func asKind(v any, k kind) (any, bool) {
	if v == nil || k == kindNone {
		return nil, true
	}
	switch k {
	case kindText:
		switch x := v.(type) {
		case string:
			return v, true
		case int64:
			return strconv.FormatInt(x, 10), true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case bool:
			return strconv.FormatBool(x), true
		}
	case kindInt:
		switch x := v.(type) {
		case int64:
			return v, true
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
				return int64(x), true
			}
		case bool:
			return boolNumber(x, kindInt), true
		case string:
			if n, ok := numberText(x); ok {
				return asKind(n, kindInt)
			}
		}
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return v, true
		case int64:
			return float64(x), true
		case bool:
			return boolNumber(x, kindFloat), true
		case string:
			if n, ok := numberText(x); ok {
				return asKind(n, kindFloat)
			}
		}
	case kindBool:
		switch x := v.(type) {
		case bool:
			return v, true
		case int64:
			if x == 0 || x == 1 {
				return x == 1, true
			}
		case float64:
			if x == 0 || x == 1 {
				return x == 1, true
			}
		case string:
			if x == "true" || x == "false" {
				return x == "true", true
			}
			if n, ok := numberText(x); ok {
				return asKind(n, kindBool)
			}
		}
	}
	return nil, false
}

func boolNumber(b bool, k kind) any {
	switch {
	case k == kindInt && b:
		return int64(1)
	case k == kindInt:
		return int64(0)
	case b:
		return 1.0
	}
	return 0.0
}

// numberText reads text that is exactly a decimal number ("7", "-2.5",
// "1e3"; not "7abc", " 7", "0x7" or "inf").
func numberText(s string) (any, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

// literalValue is the value of the literal starting at token i (a string,
// a number, "-" and a number, TRUE or FALSE) and the index of its last
// token.
func literalValue(toks []token, i int) (any, int, error) {
	t := toks[i]
	switch t.typ {
	case tString:
		return t.text, i, nil
	case tKeyword:
		return t.text == "TRUE", i, nil
	}
	text, last := t.text, i
	if t.typ == tMinus {
		text, last = "-"+toks[i+1].text, i+1
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, last, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, last, invalidQuery("number %s is out of range (numbers are 64-bit integers or floats)", text)
	}
	return f, last, nil
}

// cannotBe is the error of a value that cannot be the kind it is compared as.
func cannotBe(what string, v any, k kind, from string) error {
	shown := fmt.Sprintf("%v", v)
	if s, ok := v.(string); ok {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		shown = strconv.Quote(s)
	}
	if from == "" {
		return invalidQuery("%s %s cannot be compared as %s", what, shown, k)
	}
	return invalidQuery("%s %s is compared with %s, which is %s, and cannot be one", what, shown, from, k)
}
