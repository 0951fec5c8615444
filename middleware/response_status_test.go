package middleware_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"appkernel/middleware"
)

// TestResponseStatus: middleware below Logger reads what was sent so far.
func TestResponseWritten(t *testing.T) {
	if _, _, ok := middleware.ResponseWritten(t.Context()); ok {
		t.Fatal("ResponseStatus outside Logger reports ok")
	}
	logger, err := middleware.Logger(middleware.LoggerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		status int
		bytes  int64
		ok     bool
	}
	var before, after seen
	probe := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before.status, before.bytes, before.ok = middleware.ResponseWritten(r.Context())
			next.ServeHTTP(w, r)
			after.status, after.bytes, after.ok = middleware.ResponseWritten(r.Context())
		})
	}
	h := logger(probe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "short and stout")
	})))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if before != (seen{0, 0, true}) || after != (seen{http.StatusTeapot, 15, true}) {
		t.Fatalf("before %+v, after %+v", before, after)
	}
}
