package db

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// fields turns the value given to SaveEntity into sorted, normalized fields
// and the id (empty when absent).
func (c *core) fields(table string, v any) ([]field, string, error) {
	var fs []field
	var err error
	switch m := v.(type) {
	case map[string]any:
		fs = make([]field, 0, len(m))
		for k, x := range m {
			if fs, err = appendField(fs, table, k, x); err != nil {
				return nil, "", err
			}
		}
	case nil:
		return nil, "", fmt.Errorf("db: save %s: nil entity: %w", table, ErrTypeMismatch)
	default:
		if fs, err = c.reflectFields(table, v); err != nil {
			return nil, "", err
		}
	}
	sortFields(fs)
	id := ""
	for i, f := range fs {
		if f.name != "id" {
			continue
		}
		switch x := f.val.(type) {
		case nil:
		case string:
			if len(x) > maxIDLen {
				return nil, "", fmt.Errorf("db: %s: an id is at most %d bytes, got %d: %w", table, maxIDLen, len(x), ErrTypeMismatch)
			}
			id = x
		default:
			return nil, "", &TypeMismatchError{Table: table, Column: "id", ColumnType: "text", ValueType: valueType(f.kind)}
		}
		fs = append(fs[:i], fs[i+1:]...)
		break
	}
	return fs, id, nil
}

// maxIDLen bounds the ids callers choose: MySQL's id column is a
// VARCHAR(255), and the other databases take the same ids.
const maxIDLen = 255

func appendField(fs []field, table, name string, x any) ([]field, error) {
	if err := checkField(table, name); err != nil {
		return nil, err
	}
	switch name {
	case "created_at", "updated_at", "deleted_at":
		return fs, nil // managed by the store
	}
	v, k, err := normalize(x)
	if err != nil {
		return nil, fmt.Errorf("db: save %s field %s: %w", table, name, err)
	}
	return append(fs, field{name: name, val: v, kind: k}), nil
}

// structInfo describes the json-tagged fields of a struct type.
type structInfo struct {
	fields []structField
}

type structField struct {
	name      string
	index     []int
	omitEmpty bool
}

var timeType = reflect.TypeFor[time.Time]()

func (c *core) reflectFields(table string, v any) ([]field, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, fmt.Errorf("db: save %s: nil %T: %w", table, v, ErrTypeMismatch)
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		fs := make([]field, 0, rv.Len())
		var err error
		for it := rv.MapRange(); it.Next(); {
			if fs, err = appendField(fs, table, it.Key().String(), it.Value().Interface()); err != nil {
				return nil, err
			}
		}
		return fs, nil
	case reflect.Struct:
		info := c.structInfo(rv.Type())
		fs := make([]field, 0, len(info.fields))
		for _, sf := range info.fields {
			fv, ok := fieldByIndex(rv, sf.index)
			if !ok || sf.omitEmpty && isEmptyValue(fv) {
				continue
			}
			x := fv.Interface()
			if t, ok := x.(time.Time); ok && t.IsZero() {
				x = nil // no entity has a timestamp in year 1
			}
			var err error
			if fs, err = appendField(fs, table, sf.name, x); err != nil {
				return nil, err
			}
		}
		return fs, nil
	}
	return nil, fmt.Errorf("db: save %s: cannot save a %T (want map[string]any or a struct): %w", table, v, ErrTypeMismatch)
}

// fieldByIndex follows index through embedded pointers; false when one is nil.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func (c *core) structInfo(t reflect.Type) *structInfo {
	if v, ok := c.structs.Load(t); ok {
		return v.(*structInfo)
	}
	info := &structInfo{}
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct && ft != timeType {
				walk(ft, idx)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if seen[name] {
				continue // the shallower field wins, as in encoding/json
			}
			seen[name] = true
			info.fields = append(info.fields, structField{
				name: name, index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,"),
			})
		}
	}
	walk(t, nil)
	c.structs.Store(t, info)
	return info
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
