package middleware

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestAppendStringEveryByte writes strings with one byte (or rune) of
// every kind at each position of a 20-byte string and compares with slog.
func TestAppendStringEveryByte(t *testing.T) {
	specials := []string{"\u2028", "\u2029", "é", "€", "\U0001F600", "\xe2\x80", "\xed\xa0\x80"}
	for c := range 256 {
		specials = append(specials, string(rune(c)), string([]byte{byte(c)}))
	}
	for _, sp := range specials {
		for pos := 0; pos <= 20; pos++ {
			s := strings.Repeat("x", pos) + sp + strings.Repeat("y", 20-pos)
			var e jsonEncoder
			e.appendString(s)
			if want := slogString(t, s); string(e.b) != want {
				t.Fatalf("%q: wrote %s, slog %s", s, e.b, want)
			}
		}
	}
}

// slogString returns s as slog.JSONHandler writes a string value.
func slogString(t *testing.T, s string) string {
	t.Helper()
	var buf strings.Builder
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
	r.AddAttrs(slog.String("k", s))
	if err := slog.NewJSONHandler(&buf, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	const prefix = `{"level":"INFO","msg":"","k":`
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "}\n") {
		t.Fatalf("unexpected slog line %q", line)
	}
	return line[len(prefix) : len(line)-2]
}
