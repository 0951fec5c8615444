package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"appkernel/middleware"
)

func TestJSONHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := middleware.NewJSONHandler(&buf, nil)
	results := func() []map[string]any {
		var ms []map[string]any
		for _, line := range bytes.Split(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Fatal(err)
	}
}

// fixedTime has a zone with an offset and nanoseconds, and a monotonic
// reading, which the "time" key must not show.
var fixedTime = time.Date(2026, 11, 26, 10, 39, 40, 123456789, time.FixedZone("X", 5*3600+30*60)).Add(0)

type textM struct{ s string }

func (m textM) MarshalText() ([]byte, error) { return []byte("<" + m.s + ">"), nil }

type jsonErr struct{ msg string }

func (e jsonErr) Error() string                { return "plain " + e.msg }
func (e jsonErr) MarshalJSON() ([]byte, error) { return []byte(`{"json":"` + e.msg + `"}`), nil }

type badJSON struct{}

func (badJSON) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("marshal panic") }

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

type valuer struct{ v slog.Value }

func (v valuer) LogValue() slog.Value { return v.v }

type selfValuer struct{}

func (selfValuer) LogValue() slog.Value { return slog.AnyValue(selfValuer{}) }

// edgeAttrs are attributes whose encoding has a rule worth checking.
func edgeAttrs() []slog.Attr {
	var nilE *nilErr
	return []slog.Attr{
		slog.String("plain", "hello"),
		slog.String("esc", "q\" b\\ nl\n cr\r tab\t nul\x00 bell\x07 us\x1f del\x7f"),
		slog.String("html", "<a href='x'>&amp;</a>"),
		slog.String("bad utf8", "a\xffb\xc3(c\xed\xa0\x80d"),
		slog.String("seps", "line\u2028para\u2029end"),
		slog.String("unicode", "héllo wörld ✓ 😀 \ufffd"),
		slog.String("", "empty key"),
		slog.String("k\"ey\n<>", "odd key"),
		slog.Int("int", -42),
		slog.Int64("min", math.MinInt64),
		slog.Uint64("max", math.MaxUint64),
		slog.Float64("f0", 0),
		slog.Float64("fneg0", math.Copysign(0, -1)),
		slog.Float64("f", 0.123),
		slog.Float64("fbig", 1e21),
		slog.Float64("fbelow", 999999999999999999999.0),
		slog.Float64("ftiny", 1e-7),
		slog.Float64("fsmall", 0.000001),
		slog.Float64("fexp", 1.5e-300),
		slog.Float64("fexp2", -2.5e+300),
		slog.Float64("fmax", math.MaxFloat64),
		slog.Float64("fsub", math.SmallestNonzeroFloat64),
		slog.Float64("nan", math.NaN()),
		slog.Float64("inf", math.Inf(1)),
		slog.Float64("-inf", math.Inf(-1)),
		slog.Bool("t", true),
		slog.Bool("f", false),
		slog.Duration("d", 1500*time.Millisecond),
		slog.Time("when", fixedTime),
		slog.Time("utc", fixedTime.UTC()),
		slog.Time("zero", time.Time{}),
		slog.Time("y10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		slog.Any("err", errors.New("it <broke>\n")),
		slog.Any("jerr", jsonErr{"x"}),
		slog.Any("nilerr", nilE),
		slog.Any("badjson", badJSON{}),
		slog.Any("panicky", panicky{}),
		slog.Any("nil", nil),
		slog.Any("map", map[string]any{"b": 1, "a": []int{1, 2}, "h": "<&>"}),
		slog.Any("slice", []string{"x", "y\n"}),
		slog.Any("struct", struct {
			A int     `json:"a"`
			B float64 `json:"b"`
		}{1, 2.5}),
		slog.Any("text", textM{"m"}),
		slog.Any("addr", netip.MustParseAddr("10.0.0.1")),
		slog.Any("chan", make(chan int)),
		slog.Any("source", &slog.Source{Function: "f", File: "/a.go", Line: 3}),
		slog.Any("emptysource", &slog.Source{}),
		slog.Any("level", slog.LevelWarn+1),
		slog.Any("valuer", valuer{slog.IntValue(7)}),
		slog.Any("groupvaluer", valuer{slog.GroupValue(slog.String("in", "side"))}),
		slog.Any("loop", selfValuer{}),
		slog.Group("g", slog.Int("a", 1), slog.Group("h", slog.Bool("b", true))),
		slog.Group("", slog.Int("inlined", 1)),
		slog.Group("emptygroup"),
		slog.Group("allempty", slog.Attr{}),
		slog.Attr{},
		slog.Int("after", 2),
	}
}

type diffCase struct {
	name   string
	opts   *slog.HandlerOptions
	derive func(h slog.Handler) slog.Handler
	rec    func() slog.Record
}

func record(level slog.Level, msg string, attrs ...slog.Attr) func() slog.Record {
	return func() slog.Record {
		r := slog.NewRecord(fixedTime, level, msg, 0)
		r.AddAttrs(attrs...)
		return r
	}
}

func diffCases() []diffCase {
	id := func(h slog.Handler) slog.Handler { return h }
	var pcs [1]uintptr
	runtime.Callers(1, pcs[:])
	cases := []diffCase{
		{name: "message only", derive: id, rec: record(slog.LevelInfo, "hello")},
		{name: "zero time", derive: id, rec: func() slog.Record { return slog.NewRecord(time.Time{}, slog.LevelWarn, "m", 0) }},
		{name: "odd levels", derive: id, rec: record(slog.LevelDebug-3, "lvl\n<x>")},
		{name: "level error+2", derive: id, rec: record(slog.LevelError+2, "")},
		{name: "access line", derive: id, rec: record(slog.LevelInfo, "request",
			slog.String("method", "GET"), slog.String("route", "/widgets/{id}"), slog.String("path", "/widgets/42"),
			slog.Int("status", 200), slog.Int64("bytes", 31), slog.Float64("duration_ms", 0.123),
			slog.String("request_id", "0b8d6a3e-1f6e-4c2a-9d7b-5e4f3a2b1c0d"), slog.String("client_ip", "203.0.113.9"))},
		{name: "source", opts: &slog.HandlerOptions{AddSource: true, Level: slog.LevelDebug}, derive: id,
			rec: func() slog.Record { return slog.NewRecord(fixedTime, slog.LevelDebug, "src", pcs[0]) }},
		{name: "source without pc", opts: &slog.HandlerOptions{AddSource: true}, derive: id, rec: record(slog.LevelInfo, "nosrc")},
		{name: "with attrs", derive: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("svc", "w"), slog.Int("n", 1)})
		}, rec: record(slog.LevelInfo, "m", slog.Bool("b", true))},
		{name: "with attrs, empty record", derive: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("svc", "w")})
		}, rec: record(slog.LevelInfo, "m")},
		{name: "with only empty groups", derive: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.Group("e")})
		}, rec: record(slog.LevelInfo, "m", slog.Int("a", 1))},
		{name: "with only empty attrs", derive: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{{}, {}})
		}, rec: record(slog.LevelInfo, "m", slog.Int("a", 1))},
		{name: "group then record", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g")
		}, rec: record(slog.LevelInfo, "m", slog.Int("a", 1))},
		{name: "group, empty record", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g")
		}, rec: record(slog.LevelInfo, "m")},
		{name: "group, record of empty attrs", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g")
		}, rec: record(slog.LevelInfo, "m", slog.Attr{})},
		{name: "group, record of an empty group", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g")
		}, rec: record(slog.LevelInfo, "m", slog.Group("e"))},
		{name: "nested groups and attrs", derive: func(h slog.Handler) slog.Handler {
			h = h.WithAttrs([]slog.Attr{slog.Int("top", 0)})
			h = h.WithGroup("g1")
			h = h.WithAttrs([]slog.Attr{slog.Int("a", 1)})
			h = h.WithGroup("g2").WithGroup("g3")
			return h.WithAttrs([]slog.Attr{slog.Int("b", 2), slog.Group("in", slog.String("c", "3"))})
		}, rec: record(slog.LevelWarn, "deep", slog.Int("r", 4))},
		{name: "nested groups, empty record", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g1").WithAttrs([]slog.Attr{slog.Int("a", 1)}).WithGroup("g2")
		}, rec: record(slog.LevelWarn, "deep")},
		{name: "group, attrs that drop", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g").WithAttrs([]slog.Attr{{}})
		}, rec: record(slog.LevelInfo, "m", slog.Int("a", 1))},
		{name: "odd group names", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("a\"b\n<c>\xff")
		}, rec: record(slog.LevelInfo, "m", slog.Int("x", 1))},
		{name: "group with dropped member in the middle", derive: id, rec: record(slog.LevelInfo, "m",
			slog.Int("a", 1), slog.Group("g", slog.Attr{}), slog.Int("b", 2))},
		{name: "all edge attrs", derive: id, rec: record(slog.LevelInfo, "edges", edgeAttrs()...)},
		{name: "edge attrs via WithAttrs", derive: func(h slog.Handler) slog.Handler {
			return h.WithGroup("w").WithAttrs(edgeAttrs())
		}, rec: record(slog.LevelInfo, "edges", edgeAttrs()[:3]...)},
	}
	// Each edge attribute alone, at top level and inside a group.
	for _, a := range edgeAttrs() {
		cases = append(cases,
			diffCase{name: "attr " + a.Key, derive: id, rec: record(slog.LevelInfo, "one", a)},
			diffCase{name: "grouped attr " + a.Key, derive: func(h slog.Handler) slog.Handler { return h.WithGroup("g") },
				rec: record(slog.LevelInfo, "one", a)})
	}
	return cases
}

// outputs runs the record through both handlers.
func outputs(t testing.TB, opts *slog.HandlerOptions, derive func(slog.Handler) slog.Handler, r slog.Record) (ours, std string) {
	t.Helper()
	var a, b bytes.Buffer
	ha := derive(middleware.NewJSONHandler(&a, opts))
	hb := derive(slog.NewJSONHandler(&b, opts))
	ctx := context.Background()
	if ha.Enabled(ctx, r.Level) != hb.Enabled(ctx, r.Level) {
		t.Fatalf("Enabled(%v) differs", r.Level)
	}
	if err := ha.Handle(ctx, r.Clone()); err != nil {
		t.Fatal(err)
	}
	if err := hb.Handle(ctx, r.Clone()); err != nil {
		t.Fatal(err)
	}
	return a.String(), b.String()
}

func TestJSONHandlerSameAsSlog(t *testing.T) {
	for _, c := range diffCases() {
		t.Run(c.name, func(t *testing.T) {
			ours, std := outputs(t, c.opts, c.derive, c.rec())
			if ours != std {
				t.Errorf("output differs\n ours: %s\nslog: %s", ours, std)
			}
		})
	}
}

// TestJSONHandlerOutput pins the exact bytes of a few lines, so the
// handler stays right even if slog's own output changed.
func TestJSONHandlerOutput(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
	tests := []struct {
		name   string
		derive func(slog.Handler) slog.Handler
		attrs  []slog.Attr
		want   string
	}{
		{"access line", nil, []slog.Attr{slog.String("method", "GET"), slog.Int("status", 200), slog.Float64("duration_ms", 0.25)},
			`{"time":"2026-01-02T03:04:05.6Z","level":"INFO","msg":"m","method":"GET","status":200,"duration_ms":0.25}`},
		{"escapes", nil, []slog.Attr{slog.String("s", "<\"\\\n\x01\xff\u2028>")},
			`{"time":"2026-01-02T03:04:05.6Z","level":"INFO","msg":"m","s":"<\"\\\n\u0001\ufffd\u2028>"}`},
		{"floats", nil, []slog.Attr{slog.Float64("a", 1e21), slog.Float64("b", 1e-7), slog.Float64("c", 100), slog.Float64("d", math.NaN())},
			`{"time":"2026-01-02T03:04:05.6Z","level":"INFO","msg":"m","a":1e+21,"b":1e-7,"c":100,"d":"!ERROR:json: unsupported value: NaN"}`},
		{"error and any", nil, []slog.Attr{slog.Any("err", errors.New("x")), slog.Any("l", []int{1})},
			`{"time":"2026-01-02T03:04:05.6Z","level":"INFO","msg":"m","err":"x","l":[1]}`},
		{"groups", func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.Int("a", 1)}).WithGroup("g")
		}, []slog.Attr{slog.Group("h", slog.Int("b", 2)), slog.Group("", slog.Int("c", 3))},
			`{"time":"2026-01-02T03:04:05.6Z","level":"INFO","msg":"m","a":1,"g":{"h":{"b":2},"c":3}}`},
		{"empty group name is the receiver", func(h slog.Handler) slog.Handler { return h.WithGroup("") },
			[]slog.Attr{slog.Int("a", 1)},
			`{"time":"2026-01-02T03:04:05.6Z","level":"INFO","msg":"m","a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := middleware.NewJSONHandler(&buf, nil)
			if tt.derive != nil {
				h = tt.derive(h)
			}
			r := slog.NewRecord(ts, slog.LevelInfo, "m", 0)
			r.AddAttrs(tt.attrs...)
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestJSONHandlerLevel(t *testing.T) {
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	var buf bytes.Buffer
	l := slog.New(middleware.NewJSONHandler(&buf, &slog.HandlerOptions{Level: &lv}))
	l.Info("dropped")
	l.Warn("kept")
	lv.Set(slog.LevelDebug)
	l.Debug("now kept")
	got := buf.String()
	if strings.Contains(got, "dropped") || !strings.Contains(got, `"msg":"kept"`) || !strings.Contains(got, `"msg":"now kept"`) {
		t.Errorf("level filtering wrong:\n%s", got)
	}
	var def bytes.Buffer
	slog.New(middleware.NewJSONHandler(&def, nil)).Debug("hidden")
	if def.Len() != 0 {
		t.Errorf("nil options log DEBUG: %s", def.String())
	}
}

func TestJSONHandlerReplaceAttr(t *testing.T) {
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		if a.Key == "secret" {
			a.Value = slog.StringValue("***")
		}
		return a
	}}
	var buf bytes.Buffer
	slog.New(middleware.NewJSONHandler(&buf, opts)).Info("m", "secret", "hunter2")
	if want := `{"level":"INFO","msg":"m","secret":"***"}` + "\n"; buf.String() != want {
		t.Errorf("got %s, want %s", buf.String(), want)
	}
}

func TestJSONHandlerSource(t *testing.T) {
	var buf bytes.Buffer
	slog.New(middleware.NewJSONHandler(&buf, &slog.HandlerOptions{AddSource: true})).Info("m")
	var line struct {
		Source struct {
			Function, File string
			Line           int
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(line.Source.File, "json_handler_test.go") || line.Source.Line == 0 ||
		!strings.HasSuffix(line.Source.Function, "TestJSONHandlerSource") {
		t.Errorf("source = %+v", line.Source)
	}
}

// lineCounter checks that every Write is exactly one whole JSON line.
type lineCounter struct {
	mu     sync.Mutex
	writes int
	bad    []string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if bytes.Count(p, []byte{'\n'}) != 1 || p[len(p)-1] != '\n' || !json.Valid(p) {
		c.bad = append(c.bad, string(p))
	}
	return len(p), nil
}

func TestJSONHandlerConcurrentOneWritePerRecord(t *testing.T) {
	var c lineCounter
	base := slog.New(middleware.NewJSONHandler(&c, nil))
	const goroutines, each = 8, 300
	var wg sync.WaitGroup
	for g := range goroutines {
		l := base.With("g", g).WithGroup("grp")
		wg.Go(func() {
			for i := range each {
				l.Info("line", "i", i, "s", strings.Repeat("x", i), "f", float64(i)/7)
			}
		})
	}
	wg.Wait()
	if c.writes != goroutines*each || len(c.bad) > 0 {
		t.Fatalf("%d writes for %d records; bad writes: %q", c.writes, goroutines*each, c.bad)
	}
}

func FuzzJSONHandler(f *testing.F) {
	f.Add("msg", "key", "value", int64(-1), uint64(1), 0.123, "grp")
	f.Add("", "", "\xff\u2028<&>\"\\\x00", int64(math.MinInt64), uint64(math.MaxUint64), 1e21, "")
	f.Add("m\n", "k\t", "é", int64(0), uint64(0), 1e-7, "g\x01")
	f.Add("m", "k", "v", int64(7), uint64(7), math.NaN(), "g")
	f.Add("m", "k", "v", int64(7), uint64(7), math.Copysign(0, -1), "g")
	f.Fuzz(func(t *testing.T, msg, key, s string, i int64, u uint64, fl float64, group string) {
		attrs := []slog.Attr{
			slog.String(key, s),
			slog.Int64(s, i),
			slog.Uint64("u", u),
			slog.Float64(key+"f", fl),
			slog.Group(group, slog.String(key, msg), slog.Float64("f", fl/3)),
			slog.Any("err", errors.New(s)),
			slog.Any("any", map[string]string{key: s}),
			slog.Duration("d", time.Duration(i)),
			slog.Time("t", time.Unix(0, i).UTC()),
		}
		r := func() slog.Record {
			r := slog.NewRecord(fixedTime, slog.Level(i%16), msg, 0)
			r.AddAttrs(attrs...)
			return r
		}
		derives := []func(slog.Handler) slog.Handler{
			func(h slog.Handler) slog.Handler { return h },
			func(h slog.Handler) slog.Handler {
				if group == "" {
					return h
				}
				return h.WithGroup(group).WithAttrs([]slog.Attr{slog.String(key, s), slog.Float64("f", fl)})
			},
		}
		for _, d := range derives {
			ours, std := outputs(t, &slog.HandlerOptions{Level: slog.Level(-20)}, d, r())
			if ours != std {
				t.Fatalf("output differs\n ours: %s\nslog: %s", ours, std)
			}
		}
	})
}
