package db

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// kind is the store's type of a column, independent of the database.
type kind uint8

const (
	kindNone kind = iota // nil: no column is created for it.
	kindText
	kindInt
	kindFloat
	kindBool
	kindJSON
)

func (k kind) String() string {
	switch k {
	case kindText:
		return "text"
	case kindInt:
		return "integer"
	case kindFloat:
		return "float"
	case kindBool:
		return "bool"
	case kindJSON:
		return "json"
	}
	return "null"
}

// TimeFormat is the layout of every timestamp the store writes: fixed-width
// UTC with microseconds, so that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime formats t the way the store stores timestamps.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// jsonValue is a value stored as JSON text; raw is its encoding.
type jsonValue struct {
	v   any
	raw string
}

// normalize turns a Go value into one of the store's value types: nil,
// string, int64, float64, bool or jsonValue. Common types take a type switch
// only; everything else goes through reflection once.
func normalize(v any) (any, kind, error) {
	switch x := v.(type) {
	case nil:
		return nil, kindNone, nil
	case string:
		return x, kindText, nil
	case int64:
		return x, kindInt, nil
	case int:
		return int64(x), kindInt, nil
	case float64:
		return floatValue(x)
	case bool:
		return x, kindBool, nil
	case time.Time:
		return FormatTime(x), kindText, nil
	case *time.Time:
		if x == nil {
			return nil, kindNone, nil
		}
		return FormatTime(*x), kindText, nil
	case int32:
		return int64(x), kindInt, nil
	case int16:
		return int64(x), kindInt, nil
	case int8:
		return int64(x), kindInt, nil
	case uint8:
		return int64(x), kindInt, nil
	case uint16:
		return int64(x), kindInt, nil
	case uint32:
		return int64(x), kindInt, nil
	case uint:
		return uintValue(uint64(x))
	case uint64:
		return uintValue(x)
	case float32:
		return floatValue(float64(x))
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, kindInt, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, kindNone, fmt.Errorf("db: json.Number %q: %w", x, ErrTypeMismatch)
		}
		return floatValue(f)
	case []byte:
		return string(x), kindText, nil
	case map[string]any, []any, json.RawMessage:
		return encodeJSON(v)
	case jsonValue:
		return x, kindJSON, nil
	}
	return normalizeReflect(v)
}

// floatValue refuses NaN and the infinities: JSON (history, JSON columns)
// cannot hold them and the three databases would each do something else
// (SQLite stores NULL, MySQL refuses, Postgres stores them).
func floatValue(f float64) (any, kind, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, kindNone, fmt.Errorf("db: %v cannot be stored (only finite numbers can): %w", f, ErrTypeMismatch)
	}
	return f, kindFloat, nil
}

func uintValue(u uint64) (any, kind, error) {
	if u > math.MaxInt64 {
		return nil, kindNone, fmt.Errorf("db: unsigned value %d overflows int64: %w", u, ErrTypeMismatch)
	}
	return int64(u), kindInt, nil
}

func normalizeReflect(v any) (any, kind, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, kindNone, nil
		}
		return normalize(rv.Elem().Interface())
	case reflect.String:
		return rv.String(), kindText, nil
	case reflect.Bool:
		return rv.Bool(), kindBool, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), kindInt, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintValue(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return floatValue(rv.Float())
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		if rv.Kind() == reflect.Slice && rv.IsNil() || rv.Kind() == reflect.Map && rv.IsNil() {
			return nil, kindNone, nil
		}
		return encodeJSON(v)
	}
	return nil, kindNone, fmt.Errorf("db: cannot store a %T value: %w", v, ErrTypeMismatch)
}

func encodeJSON(v any) (any, kind, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, kindNone, fmt.Errorf("db: cannot encode %T as JSON: %v: %w", v, err, ErrTypeMismatch)
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		return nil, kindNone, fmt.Errorf("db: cannot encode %T as JSON: %v: %w", v, err, ErrTypeMismatch)
	}
	if back == nil {
		return nil, kindNone, nil
	}
	return jsonValue{v: back, raw: string(b)}, kindJSON, nil
}

// fit converts a normalized value for a column of kind col, or reports that
// it does not fit. Integers go into float columns; integral floats into
// integer columns (JSON bodies decode numbers as float64).
func fit(v any, vk, col kind) (any, bool) {
	if vk == col || vk == kindNone {
		return v, true
	}
	switch {
	case col == kindFloat && vk == kindInt:
		return float64(v.(int64)), true
	case col == kindInt && vk == kindFloat:
		f := v.(float64)
		if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			return int64(f), true
		}
	}
	return nil, false
}

// bindValue is the driver argument for a normalized value.
func bindValue(v any) any {
	if j, ok := v.(jsonValue); ok {
		return j.raw
	}
	return v
}

// outValue is the value handed back to callers for a normalized value.
func outValue(v any) any {
	if j, ok := v.(jsonValue); ok {
		return j.v
	}
	return v
}

// decode turns what a driver returned for a column of kind k into the Go
// type the value was saved with.
func decode(k kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kindText:
		switch x := v.(type) {
		case string:
			return v, nil // the same interface: no new allocation
		case []byte:
			return string(x), nil
		case time.Time:
			return FormatTime(x), nil
		}
	case kindInt:
		switch x := v.(type) {
		case int64:
			return v, nil
		case []byte:
			return strconv.ParseInt(string(x), 10, 64)
		case string:
			return strconv.ParseInt(x, 10, 64)
		case int32:
			return int64(x), nil
		case float64:
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return v, nil
		case []byte:
			return strconv.ParseFloat(string(x), 64)
		case string:
			return strconv.ParseFloat(x, 64)
		case int64:
			return float64(x), nil
		case float32:
			return float64(x), nil
		}
	case kindBool:
		switch x := v.(type) {
		case bool:
			return v, nil
		case int64:
			return x != 0, nil
		case []byte:
			return len(x) > 0 && x[0] != '0', nil
		case string:
			return x != "" && x != "0" && x != "false", nil
		}
	case kindJSON:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = x
		default:
			return x, nil
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("db: decoding JSON column: %w", err)
		}
		return out, nil
	}
	return v, nil
}

// valueType names the type of a normalized value for error messages.
func valueType(k kind) string { return k.String() }
