package db

import (
	"fmt"
	"reflect"
	"testing"
)

type plainRow struct {
	ID     string  `json:"id"`
	Name   string  `json:"name,omitempty"`
	Count  int64   `json:"count"`
	Small  int8    `json:"small"`
	Big    uint32  `json:"big"`
	Ratio  float64 `json:"ratio"`
	Half   float32 `json:"half"`
	Active bool    `json:"active"`
	Plain  string
	hidden string //nolint:unused // unexported: never filled
	Skip   string `json:"-"`
}

type status string

type namedRow struct {
	State status `json:"state"`
}

type nestedRow struct {
	Tags []string       `json:"tags"`
	Meta map[string]any `json:"meta"`
}

// decodeEntity must give exactly what the JSON round trip gives, for
// values the direct path takes and for those it hands to encoding/json.
func TestDecodeEntityMatchesJSON(t *testing.T) {
	c := &core{}
	entities := []Entity{
		{"id": "a", "name": "gear", "count": int64(3), "small": int64(-8), "big": int64(70000), "ratio": 0.25, "half": 1.5, "active": true, "Plain": "p", "extra": "ignored"},
		{"id": "b", "name": nil, "count": nil},
		{"count": 3.0},                   // float into int: json accepts
		{"count": 3.5},                   // float with a fraction: json refuses
		{"small": int64(300)},            // overflow
		{"big": int64(-1)},               // negative into uint
		{"ratio": int64(7)},              // int into float
		{"half": 1e300},                  // float32 overflow
		{"name": int64(5)},               // number into string: json refuses
		{"active": "yes"},                // string into bool
		{"NAME": "folded"},               // json matches keys case-insensitively
		{"plain": "folded too"},          // likewise
		{"Skip": "x", "hidden": "y"},     // never filled
		{"id": map[string]any{"x": 1.0}}, // object into string
	}
	check := func(t *testing.T, newDst func() any) {
		for i, e := range entities {
			got, want := newDst(), newDst()
			gerr := c.decodeEntity("t", e, got)
			werr := decodeInto("t", e, want)
			if (gerr == nil) != (werr == nil) {
				t.Errorf("entity %d %v: error %v, json error %v", i, e, gerr, werr)
				continue
			}
			if werr == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("entity %d %v:\n got %+v\nwant %+v", i, e, got, want)
			}
		}
	}
	t.Run("plain", func(t *testing.T) { check(t, func() any { return new(plainRow) }) })
	t.Run("named", func(t *testing.T) { check(t, func() any { return new(namedRow) }) })
	t.Run("nested", func(t *testing.T) { check(t, func() any { return new(nestedRow) }) })
	if !c.decodePlan(reflect.TypeFor[plainRow]()).direct {
		t.Fatal("plainRow should take the direct path")
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[namedRow](), reflect.TypeFor[nestedRow]()} {
		if c.decodePlan(typ).direct {
			t.Errorf("%v should go through encoding/json", typ)
		}
	}
	_ = fmt.Sprint(plainRow{}.hidden)
}
