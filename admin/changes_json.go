package admin

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// appendChanges appends to buf the JSON of changes (of changedFields):
// the same bytes json.Marshal writes for the map changeMap returns,
// without building it. A Recorder's flusher encodes audit changes with it,
// off the request's path; it sorts changes. The scalars entities hold are
// written directly, any other value as json.Marshal writes it, and a value
// json.Marshal refuses (a NaN) as the JSON string of its fmt.Sprint, so
// that an event always encodes.
func appendChanges(buf []byte, changes []auditChange) []byte {
	// json.Marshal's order of a map's keys.
	slices.SortFunc(changes, func(a, b auditChange) int { return strings.Compare(a.field, b.field) })
	buf = append(buf, '{')
	for i, c := range changes {
		if i > 0 {
			buf = append(buf, ',')
		}
		o, n := c.redacted()
		buf = appendJSONString(buf, c.field)
		buf = append(buf, `:{"old":`...)
		buf = appendJSONValue(buf, o)
		buf = append(buf, `,"new":`...)
		buf = appendJSONValue(buf, n)
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

// appendJSONValue appends v as json.Marshal writes it, with fast paths for
// the scalars entities hold.
func appendJSONValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendJSONString(buf, x)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case bool:
		return strconv.AppendBool(buf, x)
	case float64:
		// json.Marshal's format in its plain range; the exponent form
		// and the values it refuses go the slow way.
		if a := math.Abs(x); a == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.AppendFloat(buf, x, 'f', -1, 64)
		}
	case time.Time:
		// json.Marshal refuses years past 9999 and zone offsets of a day.
		y := x.Year()
		if _, off := x.Zone(); y >= 0 && y <= 9999 && off > -24*3600 && off < 24*3600 {
			buf = append(buf, '"')
			buf = x.AppendFormat(buf, time.RFC3339Nano)
			return append(buf, '"')
		}
	}
	if b, err := json.Marshal(v); err == nil {
		return append(buf, b...)
	}
	return appendMarshaled(buf, fmt.Sprint(v))
}

// appendMarshaled appends json.Marshal's quoting of s.
func appendMarshaled(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(buf, b...)
}

// appendJSONString appends s quoted as json.Marshal quotes it: text that
// needs no escape directly, anything else (quotes, backslashes, control
// bytes, the HTML characters, U+2028 and U+2029 that json.Marshal
// escapes, invalid UTF-8 it replaces) through json.Marshal.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshaled(buf, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			return appendMarshaled(buf, s)
		}
		i += size
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
