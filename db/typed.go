package db

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Get returns the entity of table with the given id decoded into a T
// through its json tags. Errors are those of GetEntity.
func Get[T any](ctx context.Context, s *Store, table, id string) (T, error) {
	var out T
	e, err := s.GetEntity(ctx, table, id)
	if err != nil {
		return out, err
	}
	err = s.c.decodeEntity(table, e, &out)
	return out, err
}

// Find returns the entities of table matching q decoded into Ts.
func Find[T any](ctx context.Context, s *Store, table string, q Query) ([]T, error) {
	es, err := s.FindEntities(ctx, table, q)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(es))
	for i, e := range es {
		if err := s.c.decodeEntity(table, e, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Save saves v (a struct with json tags; fields with omitempty and an empty
// value are left as they are) and returns the stored entity as a T, with
// its id and timestamps filled in.
func Save[T any](ctx context.Context, s *Store, table string, v T) (T, error) {
	var out T
	e, err := s.SaveEntity(ctx, table, v)
	if err != nil {
		return out, err
	}
	err = s.c.decodeEntity(table, e, &out)
	return out, err
}

func decodeInto(table string, v, dst any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("db: encoding %s entity: %w", table, err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("db: decoding %s entity into %T: %v: %w", table, dst, err, ErrTypeMismatch)
	}
	return nil
}

// decodeEntity decodes e into dst (a pointer) as json.Unmarshal of e's JSON
// would. Structs whose fields are all strings, bools and numbers are filled
// directly from the entity's values; anything else, or any value that would
// need a conversion, goes through encoding/json.
func (c *core) decodeEntity(table string, e Entity, dst any) error {
	rv := reflect.ValueOf(dst).Elem()
	if rv.Kind() == reflect.Struct {
		if plan := c.decodePlan(rv.Type()); plan.direct && plan.fill(e, rv) {
			return nil
		}
		rv.SetZero()
	}
	return decodeInto(table, e, dst)
}

// decodePlan is how decodeEntity fills one struct type directly.
type decodePlan struct {
	direct bool                   // every field can be filled directly
	byName map[string]directField // exact json names
	folded map[string]bool        // lower-cased names, to detect keys json would match case-insensitively
}

type directField struct {
	index []int
	kind  reflect.Kind
}

func (c *core) decodePlan(t reflect.Type) *decodePlan {
	if v, ok := c.decoders.Load(t); ok {
		return v.(*decodePlan)
	}
	plan := &decodePlan{direct: true, byName: map[string]directField{}, folded: map[string]bool{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous || strings.Contains(","+opts+",", ",string,") {
			plan.direct = false
			break
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		k := sf.Type.Kind()
		switch k {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
		default:
			plan.direct = false
		}
		if sf.Type.PkgPath() != "" && sf.Type.Name() != k.String() {
			plan.direct = false // a named type may have its own UnmarshalJSON
		}
		if _, dup := plan.byName[name]; dup || plan.folded[strings.ToLower(name)] {
			plan.direct = false
		}
		plan.byName[name] = directField{index: sf.Index, kind: k}
		plan.folded[strings.ToLower(name)] = true
	}
	c.decoders.Store(t, plan)
	return plan
}

// fill sets rv's fields from e, reporting false when a value needs what
// only encoding/json does (a conversion, an error, a case-folded key).
func (p *decodePlan) fill(e Entity, rv reflect.Value) bool {
	for k, v := range e {
		f, ok := p.byName[k]
		if !ok {
			if p.folded[strings.ToLower(k)] {
				return false
			}
			continue
		}
		if v == nil {
			continue
		}
		fv := rv.FieldByIndex(f.index)
		switch f.kind {
		case reflect.String:
			s, ok := v.(string)
			if !ok {
				return false
			}
			fv.SetString(s)
		case reflect.Bool:
			b, ok := v.(bool)
			if !ok {
				return false
			}
			fv.SetBool(b)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n, ok := v.(int64)
			if !ok || fv.OverflowInt(n) {
				return false
			}
			fv.SetInt(n)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			n, ok := v.(int64)
			if !ok || n < 0 || fv.OverflowUint(uint64(n)) {
				return false
			}
			fv.SetUint(uint64(n))
		case reflect.Float32, reflect.Float64:
			var x float64
			switch n := v.(type) {
			case float64:
				x = n
			case int64:
				if n > 1<<53 || n < -(1<<53) {
					return false
				}
				x = float64(n)
			default:
				return false
			}
			if fv.OverflowFloat(x) {
				return false
			}
			fv.SetFloat(x)
		default:
			return false
		}
	}
	return true
}
