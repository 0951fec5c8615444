package middleware_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"appkernel/middleware"
)

type valueKey int

// WithValue inside the stack keeps the pair in the request's state (the
// same request comes back) and every context of the request answers it;
// outside the stack and past the state's pairs it is context.WithValue.
func TestWithValue(t *testing.T) {
	// Outside the stack: a new request, the original untouched.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r2 := middleware.WithValue(r, valueKey(1), "one")
	if r2 == r || r2.Context().Value(valueKey(1)) != "one" || r.Context().Value(valueKey(1)) != nil {
		t.Fatal("outside the stack WithValue is not context.WithValue")
	}

	logger, err := middleware.Logger(middleware.LoggerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var outer *http.Request
	var got []any
	set := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			outer = r
			r2 := r
			for i := 1; i <= 5; i++ {
				r2 = middleware.WithValue(r2, valueKey(i), i)
			}
			if r2 := middleware.WithValue(r, valueKey(1), "again"); r2 != r {
				t.Error("inside the stack WithValue copied the request")
			}
			next.ServeHTTP(w, r2)
		})
	}
	h := logger(set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 1; i <= 5; i++ {
			got = append(got, r.Context().Value(valueKey(i)))
		}
		got = append(got, outer.Context().Value(valueKey(2)), r.Context().Value(valueKey(9)))
	})))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	want := []any{"again", 2, 3, 4, 5, 2, nil} // key 1 replaced in the state, seen through every context
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
