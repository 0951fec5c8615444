package middleware_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"appkernel/middleware"
)

// README promises a 1 MiB body limit by default.
func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	if middleware.DefaultBodyLimit != 1<<20 {
		t.Fatalf("DefaultBodyLimit = %d, want %d (1 MiB)", middleware.DefaultBodyLimit, 1<<20)
	}
}

// TestStackDefaultBodyLimit: behind the stack with no BodyLimit set, a JSON
// body of exactly DefaultBodyLimit bytes is served and one byte more is 413
// in the error shape, whether the client announces the length
// (refused before the handler) or streams it chunked (cut off while
// DecodeJSON reads).
func TestStackDefaultBodyLimit(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	// body returns a JSON widget of exactly n bytes.
	body := func(n int) string {
		const prefix, suffix = `{"name":"`, `"}`
		return prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix
	}
	for _, c := range []struct {
		name    string
		chunked bool
	}{{"content-length", false}, {"chunked", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reader := func(s string) io.Reader {
				if c.chunked {
					return io.MultiReader(strings.NewReader(s)) // no length known to net/http
				}
				return strings.NewReader(s)
			}
			json := map[string]string{"Content-Type": "application/json"}

			at := body(1 << 20)
			resp := srv.do(t, http.MethodPost, "/widgets", reader(at), json)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("body of exactly 1 MiB: status %d, want 201", resp.StatusCode)
			}
			if got, _ := io.ReadAll(resp.Body); len(got) < len(at)-len(`{"name":""}`) {
				t.Fatalf("body of exactly 1 MiB: echoed %d bytes", len(got))
			}

			resp = srv.do(t, http.MethodPost, "/widgets", reader(body(1<<20+1)), json)
			readError(t, resp, http.StatusRequestEntityTooLarge, "payload_too_large")
		})
	}
	srv.assertServing(t)
}
