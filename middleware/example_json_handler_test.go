package middleware_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"

	"appkernel/middleware"
)

func ExampleNewJSONHandler() {
	var buf bytes.Buffer
	logger := slog.New(middleware.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logger.With("service", "widgets").Debug("widget saved",
		"id", "w1", "duration_ms", 1.25, slog.Group("owner", "id", "u1"))

	// The line starts with the time, which changes from run to run.
	line := buf.String()
	fmt.Print(`{"time":"…",` + line[strings.Index(line, `"level"`):])
	// Output:
	// {"time":"…","level":"DEBUG","msg":"widget saved","service":"widgets","id":"w1","duration_ms":1.25,"owner":{"id":"u1"}}
}
