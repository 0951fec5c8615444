package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// NewJSONHandler returns a slog.Handler that writes each record to w as one
// line of JSON, byte for byte what slog.NewJSONHandler(w, opts) writes for
// the same record: the keys "time", "level", "source" and "msg", RFC 3339
// times with nanoseconds, strings escaped like encoding/json without HTML
// escaping (invalid UTF-8 becomes \ufffd), floats formatted like
// json.Marshal, errors as their Error() text, LogValuers resolved, groups
// from slog.Group and WithGroup as nested objects, and every other value
// through json.Marshal. It is cheaper per line than the stdlib handler,
// which matters for a line per request: strings, numbers (floats without
// json.Marshal), times and durations are formatted straight into a pooled
// buffer, and the Logger middleware's access line skips slog.Record
// altogether (about 0.7 µs instead of 3.8 µs in middleware/BENCH.md).
//
// If opts is nil, the defaults are used (INFO, no source). When
// opts.ReplaceAttr is set, NewJSONHandler returns slog.NewJSONHandler(w, opts)
// itself: the output is the same either way.
//
// Each record is written to w in a single Write call; the handler and the
// handlers derived from it with WithAttrs and WithGroup share a mutex
// around that call, so they are safe for concurrent use on one w.
//
// Unlike slog.JSONHandler, WithGroup("") returns the receiver, as the
// slog.Handler contract says (slog.Logger.WithGroup never passes "").
// The kernel uses it for its default logger.
func NewJSONHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	if opts.ReplaceAttr != nil {
		return slog.NewJSONHandler(w, opts)
	}
	return &jsonHandler{w: w, mu: new(sync.Mutex), level: opts.Level, addSource: opts.AddSource}
}

type jsonHandler struct {
	w         io.Writer
	mu        *sync.Mutex // shared by every handler derived from the same NewJSONHandler
	level     slog.Leveler
	addSource bool

	// pre holds the attributes of WithAttrs, already encoded, with the
	// groups they were added under opened (nOpen of groups).
	pre    []byte
	groups []string
	nOpen  int
}

func (h *jsonHandler) Enabled(_ context.Context, l slog.Level) bool {
	minLevel := slog.LevelInfo
	if h.level != nil {
		minLevel = h.level.Level()
	}
	return l >= minLevel
}

func (h *jsonHandler) clone() *jsonHandler {
	h2 := *h
	h2.pre = slices.Clip(h.pre)
	h2.groups = slices.Clip(h.groups)
	return &h2
}

func (h *jsonHandler) WithAttrs(as []slog.Attr) slog.Handler {
	empty := 0
	for _, a := range as {
		if a.Value.Kind() == slog.KindGroup && len(a.Value.Group()) == 0 {
			empty++
		}
	}
	if empty == len(as) {
		return h
	}
	h2 := h.clone()
	e := jsonEncoder{h: h2, b: h2.pre}
	if len(e.b) > 0 && e.b[len(e.b)-1] != '{' {
		e.sep = true
	}
	pos := len(e.b)
	e.openGroups()
	if e.appendAttrs(as) {
		h2.nOpen = len(h2.groups)
	} else {
		e.b = e.b[:pos]
	}
	h2.pre = e.b
	return h2
}

func (h *jsonHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := h.clone()
	h2.groups = append(h2.groups, name)
	return h2
}

// logLinePool holds line buffers; big ones are dropped rather than kept.
var logLinePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

const maxPooledLogLine = 16 << 10

func (h *jsonHandler) Handle(_ context.Context, r slog.Record) error {
	return h.handle(r.Time, r.Level, r.Message, r.PC, &r, nil)
}

// handle writes one line with the attributes of rec, or with attrs when
// rec is nil: the access log hands its attributes over as a slice and so
// skips building a slog.Record (which allocates past five attributes).
func (h *jsonHandler) handle(t time.Time, level slog.Level, msg string, pc uintptr, rec *slog.Record, attrs []slog.Attr) error {
	bp := logLinePool.Get().(*[]byte)
	e := jsonEncoder{h: h, b: append((*bp)[:0], '{')}
	if !t.IsZero() {
		e.b = append(e.b, `"time":`...)
		e.appendTime(t.Round(0))
		e.sep = true
	}
	e.key(slog.LevelKey)
	e.appendString(level.String())
	if h.addSource {
		src := &slog.Source{}
		if pc != 0 {
			f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
			src = &slog.Source{Function: f.Function, File: f.File, Line: f.Line}
		}
		e.appendAttr(slog.Any(slog.SourceKey, src))
	}
	e.key(slog.MessageKey)
	e.appendString(msg)

	if len(h.pre) > 0 {
		e.b = append(e.b, ',')
		e.b = append(e.b, h.pre...)
		e.sep = h.pre[len(h.pre)-1] != '{'
	}
	open := h.nOpen
	n := len(attrs)
	if rec != nil {
		n = rec.NumAttrs()
	}
	if n > 0 {
		pos := len(e.b)
		e.openGroups()
		open = len(h.groups)
		empty := true
		if rec != nil {
			rec.Attrs(func(a slog.Attr) bool {
				if e.appendAttr(a) {
					empty = false
				}
				return true
			})
		} else if e.appendAttrs(attrs) {
			empty = false
		}
		if empty {
			e.b = e.b[:pos]
			open = h.nOpen
		}
	}
	for range open {
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}', '\n')
	return h.write(bp, e.b)
}

// handleAccess writes the Logger middleware's access line: what handle
// writes for the same attributes, with the keys written as the constants
// they are. Groups from WithGroup not yet opened by WithAttrs take the
// general way.
func (h *jsonHandler) handleAccess(t time.Time, level slog.Level, l *accessLine) error {
	if h.nOpen != len(h.groups) {
		var attrs [12]slog.Attr
		return h.handle(t, level, accessMsg, 0, nil, l.attrs(&attrs))
	}
	bp := logLinePool.Get().(*[]byte)
	e := jsonEncoder{h: h, b: append((*bp)[:0], '{')}
	if !t.IsZero() {
		e.b = append(e.b, `"time":`...)
		e.appendTime(t.Round(0))
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, `"level":`...)
	e.appendString(level.String())
	e.b = append(e.b, `,"msg":"`+accessMsg+`"`...)
	if len(h.pre) > 0 {
		e.b = append(e.b, ',')
		e.b = append(e.b, h.pre...)
		if h.pre[len(h.pre)-1] != '{' {
			e.b = append(e.b, ',')
		}
	} else {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, `"method":`...)
	e.appendString(l.method)
	e.b = append(e.b, `,"route":`...)
	e.appendString(l.route)
	e.b = append(e.b, `,"path":`...)
	e.appendString(l.path)
	e.b = append(e.b, `,"status":`...)
	e.b = strconv.AppendInt(e.b, int64(l.status), 10)
	e.b = append(e.b, `,"bytes":`...)
	e.b = strconv.AppendInt(e.b, l.bytes, 10)
	e.b = append(e.b, `,"duration_ms":`...)
	e.appendFloat(l.durationMS)
	e.b = append(e.b, `,"request_id":`...)
	e.appendString(l.requestID)
	for _, kv := range [...]struct{ key, value string }{
		{`,"trace_id":`, l.traceID},
		{`,"client_ip":`, l.clientIP},
		{`,"user_id":`, l.userID},
		{`,"error":`, l.err},
		{`,"stack":`, l.stack},
	} {
		if kv.value != "" {
			e.b = append(e.b, kv.key...)
			e.appendString(kv.value)
		}
	}
	for range h.nOpen {
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}', '\n')
	return h.write(bp, e.b)
}

// write writes one line and returns its buffer to the pool.
func (h *jsonHandler) write(bp *[]byte, line []byte) error {
	h.mu.Lock()
	_, err := h.w.Write(line)
	h.mu.Unlock()
	if cap(line) <= maxPooledLogLine {
		*bp = line
		logLinePool.Put(bp)
	}
	return err
}

// jsonEncoder appends the parts of one record (or of WithAttrs) to b. sep
// says whether a comma goes before the next key.
type jsonEncoder struct {
	h   *jsonHandler
	b   []byte
	sep bool
}

func (e *jsonEncoder) openGroups() {
	for _, g := range e.h.groups[e.h.nOpen:] {
		e.key(g)
		e.b = append(e.b, '{')
		e.sep = false
	}
}

func (e *jsonEncoder) key(k string) {
	if e.sep {
		e.b = append(e.b, ',')
	}
	e.appendString(k)
	e.b = append(e.b, ':')
	e.sep = true
}

func (e *jsonEncoder) appendAttrs(as []slog.Attr) bool {
	wrote := false
	for _, a := range as {
		if e.appendAttr(a) {
			wrote = true
		}
	}
	return wrote
}

// appendAttr appends one attribute and reports whether it counts as
// written. The rules, quirks included, are slog's: an empty Attr is
// dropped, a group with no attributes writes nothing yet counts, a group
// whose attributes all drop is removed, a *slog.Source is a group.
func (e *jsonEncoder) appendAttr(a slog.Attr) bool {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() == slog.KindAny && v.Any() == nil {
		return false
	}
	if v.Kind() == slog.KindAny {
		if src, ok := v.Any().(*slog.Source); ok {
			if src == nil || *src == (slog.Source{}) {
				return false
			}
			v = sourceGroup(src)
		}
	}
	if v.Kind() != slog.KindGroup {
		e.key(a.Key)
		e.appendValue(v)
		return true
	}
	attrs := v.Group()
	if len(attrs) == 0 {
		return true
	}
	pos := len(e.b)
	if a.Key != "" {
		e.key(a.Key)
		e.b = append(e.b, '{')
		e.sep = false
	}
	if !e.appendAttrs(attrs) {
		e.b = e.b[:pos]
		return false
	}
	if a.Key != "" {
		e.b = append(e.b, '}')
		e.sep = true
	}
	return true
}

func sourceGroup(src *slog.Source) slog.Value {
	as := make([]slog.Attr, 0, 3)
	if src.Function != "" {
		as = append(as, slog.String("function", src.Function))
	}
	if src.File != "" {
		as = append(as, slog.String("file", src.File))
	}
	if src.Line != 0 {
		as = append(as, slog.Int("line", src.Line))
	}
	return slog.GroupValue(as...)
}

func (e *jsonEncoder) appendValue(v slog.Value) {
	switch v.Kind() {
	case slog.KindString:
		e.appendString(v.String())
	case slog.KindInt64:
		e.b = strconv.AppendInt(e.b, v.Int64(), 10)
	case slog.KindUint64:
		e.b = strconv.AppendUint(e.b, v.Uint64(), 10)
	case slog.KindFloat64:
		e.appendFloat(v.Float64())
	case slog.KindBool:
		e.b = strconv.AppendBool(e.b, v.Bool())
	case slog.KindDuration:
		e.b = strconv.AppendInt(e.b, int64(v.Duration()), 10)
	case slog.KindTime:
		e.appendTime(v.Time())
	default:
		e.appendAny(v.Any())
	}
}

// appendFloat formats f as json.Marshal does: shortest representation,
// exponent form below 1e-6 and from 1e21 on, with a one-digit negative
// exponent written without its leading zero. NaN and infinities go the
// json.Marshal way too, which makes them an !ERROR string.
func (e *jsonEncoder) appendFloat(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.appendAny(f)
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		// "1e-07" → "1e-7"
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

func (e *jsonEncoder) appendTime(t time.Time) {
	if y := t.Year(); y < 0 || y >= 10000 {
		// What slog writes: the error, then the time anyway.
		e.appendString("!ERROR:time.Time year outside of range [0,9999]")
	}
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, '"')
}

// marshalers are pooled json.Encoders that do not escape HTML, as slog's.
var marshalers = sync.Pool{New: func() any {
	m := &marshaler{}
	m.enc = json.NewEncoder(&m.buf)
	m.enc.SetEscapeHTML(false)
	return m
}}

type marshaler struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// appendAny writes an error as its text and anything else through
// encoding/json. A value whose method panics is written as slog writes it:
// "<nil>" for a nil pointer, "!PANIC: ..." otherwise.
func (e *jsonEncoder) appendAny(x any) {
	defer func() {
		if p := recover(); p != nil {
			if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
				e.appendString("<nil>")
				return
			}
			e.appendString(fmt.Sprintf("!PANIC: %v", p))
		}
	}()
	if err, ok := x.(error); ok {
		if _, ok := x.(json.Marshaler); !ok {
			e.appendString(err.Error())
			return
		}
	}
	m := marshalers.Get().(*marshaler)
	defer func() {
		if m.buf.Cap() <= maxPooledLogLine {
			m.buf.Reset()
			marshalers.Put(m)
		}
	}()
	if err := m.enc.Encode(x); err != nil {
		e.appendString(fmt.Sprintf("!ERROR:%v", err))
		return
	}
	out := m.buf.Bytes()
	e.b = append(e.b, out[:len(out)-1]...) // without Encode's newline
}

// jsonSafe marks the bytes written as they are inside a JSON string: ASCII
// but control characters, '"' and '\\'. Bytes of multi-byte UTF-8 are
// checked apart; HTML characters are not escaped (slog's JSON handler does
// not escape them either).
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a quoted JSON string, escaped as slog and
// encoding/json escape: \n \r \t \" \\, other control bytes as \u00XX,
// each byte of invalid UTF-8 as \ufffd, and U+2028 and U+2029 as \u2028
// and \u2029.
func (e *jsonEncoder) appendString(s string) {
	b := append(e.b, '"')
	done := 0 // s[:done] is written
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	b = append(b, s[done:]...)
	e.b = append(b, '"')
}

const hexDigits = "0123456789abcdef"
