package db

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Query selects entities for FindEntities.
type Query struct {
	// Where filters entities with the where-clause grammar of the package
	// documentation, e.g. "[email] = ? AND [age] >= ?". Empty matches all.
	Where string
	// Params are bound to the ? of Where, in order; their count must match.
	Params []any
	// OrderBy is "[col] ASC|DESC, ...". Defaults to "[created_at] ASC";
	// "id" always breaks ties so pages are stable.
	OrderBy string
	// Limit caps the number of entities; 0 means no limit. It must not
	// exceed Config.MaxLimit.
	Limit int
	// Offset skips that many entities first.
	Offset int
	// IncludeDeleted also returns soft-deleted entities.
	IncludeDeleted bool
}

// parsedWhere is a validated where clause, cached by its text.
type parsedWhere struct {
	toks   []token
	params int
}

// parseCache holds validated where clauses (keyed by their text) and
// orders (keyed by orderKey); bounded so that clauses built from user input
// cannot grow it without end.
type parseCache struct {
	m sync.Map
	n atomic.Int64
}

const maxCachedClauses = 4096

func (s *Store) parse(where string) (*parsedWhere, error) {
	if v, ok := s.c.parsed.m.Load(where); ok {
		return v.(*parsedWhere), nil
	}
	toks, n, err := parseWhere(where)
	if err != nil {
		return nil, err
	}
	p := &parsedWhere{toks: toks, params: n}
	if s.c.parsed.n.Add(1) <= maxCachedClauses {
		s.c.parsed.m.Store(where, p)
	}
	return p, nil
}

// selectShape names a statement over a table: what is selected, the clause,
// the order and whether deleted rows count.
type selectShape struct {
	count          bool
	where, orderBy string
	page           bool
	includeDeleted bool
}

func (sh selectShape) key() string {
	var b strings.Builder
	b.Grow(len(sh.where) + len(sh.orderBy) + 8)
	if sh.count {
		b.WriteString("c\x00")
	} else {
		b.WriteString("f\x00")
	}
	if sh.page {
		b.WriteByte('p')
	}
	if sh.includeDeleted {
		b.WriteByte('d')
	}
	b.WriteByte(0)
	b.WriteString(sh.where)
	b.WriteByte(0)
	b.WriteString(sh.orderBy)
	return b.String()
}

// selectSQL renders (and caches per table) a SELECT for shape. It fails
// with ErrInvalidQuery when the clause does not type against the table
// (see typeWhere).
func (s *Store) selectSQL(ctx context.Context, t *tableInfo, sh selectShape, pw *parsedWhere, order []orderTerm) (*whereSQL, *tableInfo, error) {
	key := sh.key()
	if v, ok := t.sql.Load(key); ok {
		w := v.(*whereSQL)
		if !w.missing || !stale(t) {
			return w, t, nil
		}
	}
	// A column the cache lacks may have been added by another instance.
	if stale(t) && lacksColumn(t, pw, order) {
		if nt, err := s.refresh(ctx, t.name); err == nil && nt != nil {
			t = nt
		}
	}
	d := s.c.d
	has := func(c string) bool { _, ok := t.cols[c]; return ok }
	var b strings.Builder
	if sh.count {
		b.WriteString("SELECT COUNT(*) FROM ")
		b.WriteString(d.quote(t.name))
	} else {
		b.WriteString(s.selectAll(t))
	}
	w := &whereSQL{}
	if pw != nil && len(pw.toks) > 0 {
		out, args, err := rewriteWhere(d, pw.toks, func(c string) (kind, bool) { k, ok := t.cols[c]; return k, ok }, 1)
		if err != nil {
			return nil, t, err
		}
		// The caller's clause is parenthesised before the store adds its
		// own conditions, so an OR in it cannot escape them.
		b.WriteString(" WHERE (")
		b.Write(out)
		b.WriteString(")")
		if !sh.includeDeleted {
			b.WriteString(" AND " + d.quote("deleted_at") + " IS NULL")
		}
		w.args, w.params = args, pw.params
	} else if !sh.includeDeleted {
		b.WriteString(" WHERE " + d.quote("deleted_at") + " IS NULL")
	}
	if !sh.count {
		b.WriteString(" ORDER BY ")
		seenID := false
		n := 0
		for _, o := range order {
			if !has(o.col) {
				w.missing = true
				continue
			}
			if n > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(d.quote(o.col))
			if o.desc {
				b.WriteString(" DESC")
			} else {
				b.WriteString(" ASC")
			}
			seenID = seenID || o.col == "id"
		}
		if n == 0 {
			b.WriteString(d.quote("created_at") + " ASC")
		}
		if !seenID {
			b.WriteString(", " + d.quote("id") + " ASC")
		}
		if sh.page {
			b.WriteString(" LIMIT " + d.placeholder(len(w.args)+1) + " OFFSET " + d.placeholder(len(w.args)+2))
		}
	}
	if pw != nil {
		for _, tk := range pw.toks {
			if tk.typ == tCol && !has(tk.text) {
				w.missing = true
			}
		}
	}
	w.sql = b.String()
	// Clauses built from varying input must not grow the cache without end.
	if t.queries.Add(1) <= maxCachedClauses {
		t.sql.Store(key, w)
	}
	return w, t, nil
}

func stale(t *tableInfo) bool { return !t.loadedAt.IsZero() && time.Since(t.loadedAt) >= staleAfter }

func lacksColumn(t *tableInfo, pw *parsedWhere, order []orderTerm) bool {
	if pw != nil {
		for _, tk := range pw.toks {
			if tk.typ == tCol {
				if _, ok := t.cols[tk.text]; !ok {
					return true
				}
			}
		}
	}
	for _, o := range order {
		if _, ok := t.cols[o.col]; !ok {
			return true
		}
	}
	return false
}

// bindArgs builds the arguments of a rewritten clause from the caller's
// params, with room for extra trailing arguments.
func bindArgs(w *whereSQL, params []any, extra int) ([]any, error) {
	args := make([]any, 0, len(w.args)+extra)
	for _, a := range w.args {
		if a.param < 0 {
			args = append(args, a.lit)
			continue
		}
		v, _, err := normalize(params[a.param])
		if err != nil {
			return nil, err
		}
		if v, err = a.coerce(v); err != nil {
			return nil, err
		}
		args = append(args, bindValue(v))
	}
	return args, nil
}

// FindEntities returns the entities of table matching q, in q's order. A
// table that does not exist yet has no entities.
func (s *Store) FindEntities(ctx context.Context, table string, q Query) (_ []Entity, opErr error) {
	if s.c.cfg.OnOp != nil {
		defer s.opDone(ctx, OpFind, table, time.Now(), &opErr)
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	if err := s.checkTx(); err != nil {
		return nil, err
	}
	s.use(table)
	switch {
	case q.Limit < 0:
		return nil, invalidQuery("%s: Limit %d is negative", table, q.Limit)
	case q.Offset < 0:
		return nil, invalidQuery("%s: Offset %d is negative", table, q.Offset)
	case q.Limit > s.c.cfg.MaxLimit:
		return nil, invalidQuery("%s: Limit %d exceeds the maximum of %d", table, q.Limit, s.c.cfg.MaxLimit)
	}
	pw, err := s.parse(q.Where)
	if err != nil {
		return nil, err
	}
	if pw.params != len(q.Params) {
		return nil, invalidQuery("%s: where clause has %d placeholders but %d params were given", table, pw.params, len(q.Params))
	}
	var order []orderTerm
	if q.OrderBy != "" {
		if order, err = s.parseOrder(q.OrderBy); err != nil {
			return nil, err
		}
	}
	t, err := s.tableForRead(ctx, table)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return []Entity{}, nil
	}
	sh := selectShape{where: q.Where, orderBy: q.OrderBy, page: q.Limit > 0 || q.Offset > 0, includeDeleted: q.IncludeDeleted}
	w, t, err := s.selectSQL(ctx, t, sh, pw, order)
	if err != nil {
		return nil, err
	}
	args, err := bindArgs(w, q.Params, 2)
	if err != nil {
		return nil, err
	}
	if sh.page {
		limit := int64(q.Limit)
		if limit == 0 {
			limit = math.MaxInt64
		}
		args = append(args, limit, int64(q.Offset))
	}
	rows, err := s.queryT(ctx, s.reader(), t, w.sql, args...)
	if err != nil && s.retryable(s.c.d.classify(err)) {
		if t, _ = s.refresh(ctx, table); t == nil {
			return []Entity{}, nil
		}
		if w, t, err = s.selectSQL(ctx, t, sh, pw, order); err != nil {
			return nil, err
		}
		rows, err = s.queryT(ctx, s.reader(), t, w.sql, args...)
	}
	if err != nil {
		return s.readFailed(table, err)
	}
	hint := q.Limit
	if hint == 0 || hint > 256 {
		hint = 16
	}
	return s.scan(ctx, t, rows, hint)
}

// orderKey keys a parsed OrderBy in the parse cache; a distinct type, so no
// where text can ever name a cached order.
type orderKey string

func (s *Store) parseOrder(orderBy string) ([]orderTerm, error) {
	key := orderKey(orderBy)
	if v, ok := s.c.parsed.m.Load(key); ok {
		return v.([]orderTerm), nil
	}
	order, err := parseOrderBy(orderBy)
	if err != nil {
		return nil, err
	}
	if s.c.parsed.n.Add(1) <= maxCachedClauses {
		s.c.parsed.m.Store(key, order)
	}
	return order, nil
}

// readFailed turns a read on a table dropped behind the cache's back into
// an empty result.
func (s *Store) readFailed(table string, err error) ([]Entity, error) {
	if s.c.d.classify(err) == errNoTable {
		s.forget(table)
		return []Entity{}, nil
	}
	return nil, s.wrapRead("find in "+table, err)
}

// CountEntities counts the entities of table matching where (the grammar of
// Query.Where; empty counts all). A missing table counts 0.
func (s *Store) CountEntities(ctx context.Context, table, where string, params ...any) (_ int64, opErr error) {
	if s.c.cfg.OnOp != nil {
		defer s.opDone(ctx, OpCount, table, time.Now(), &opErr)
	}
	if err := checkTable(table); err != nil {
		return 0, err
	}
	if err := s.checkTx(); err != nil {
		return 0, err
	}
	s.use(table)
	pw, err := s.parse(where)
	if err != nil {
		return 0, err
	}
	if pw.params != len(params) {
		return 0, invalidQuery("%s: where clause has %d placeholders but %d params were given", table, pw.params, len(params))
	}
	t, err := s.tableForRead(ctx, table)
	if err != nil || t == nil {
		return 0, err
	}
	w, t, err := s.selectSQL(ctx, t, selectShape{count: true, where: where}, pw, nil)
	if err != nil {
		return 0, err
	}
	args, err := bindArgs(w, params, 0)
	if err != nil {
		return 0, err
	}
	var n int64
	rows, err := s.queryT(ctx, s.reader(), t, w.sql, args...)
	if err == nil {
		err = scanOne(rows, &n)
	}
	if err != nil {
		if s.c.d.classify(err) == errNoTable {
			s.forget(table)
			return 0, nil
		}
		return 0, s.wrapRead("count in "+table, err)
	}
	return n, nil
}

// scan reads every row into entities typed by the table's columns.
func (s *Store) scan(ctx context.Context, t *tableInfo, rows *sql.Rows, hint int) ([]Entity, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, wrapDB("read "+t.name, err)
	}
	kinds := t.kinds
	unknown := false
	if !sameColumns(cols, t.order) {
		// Another instance changed the table: type what is known now, and
		// look again once the rows are read.
		kinds = make([]kind, len(cols))
		for i, c := range cols {
			k, ok := t.cols[c]
			if !ok {
				unknown = true
				k = kindNone
			}
			kinds[i] = k
		}
	}
	n := len(cols)
	buf := make([]any, 2*n) // values, then pointers to them: one allocation
	vals, ptrs := buf[:n:n], buf[n:]
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := make([]Entity, 0, hint)
	var raw [][]any // rows kept undecoded until the table is looked at again
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, wrapDB("read "+t.name, err)
		}
		if unknown {
			raw = append(raw, append([]any(nil), vals...))
			continue
		}
		e, err := decodeRow(t.name, cols, kinds, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapDB("read "+t.name, err)
	}
	if !unknown {
		return out, nil
	}
	// Another instance added columns: learn their types, then decode.
	rows.Close()
	nt, err := s.refresh(ctx, t.name)
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		if nt != nil {
			if k, ok := nt.cols[c]; ok {
				kinds[i] = k
			}
		}
	}
	for _, vals := range raw {
		e, err := decodeRow(t.name, cols, kinds, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeRow(table string, cols []string, kinds []kind, vals []any) (Entity, error) {
	e := make(Entity, len(cols))
	for i, v := range vals {
		if kinds[i] == kindNone {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			e[cols[i]] = v
			continue
		}
		dv, err := decode(kinds[i], v)
		if err != nil {
			return nil, wrapDB("read "+table+"."+cols[i], err)
		}
		e[cols[i]] = dv
	}
	return e, nil
}

func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// scanOne reads the single row of a one-column result into dst.
func scanOne(rows *sql.Rows, dst any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dst); err != nil {
		return err
	}
	return rows.Close()
}
