package middleware_test

import (
	"net/http"
	"testing"

	"appkernel/middleware"
)

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})

	d := readError(t, srv.do(t, http.MethodGet, "/no/such/route", nil, nil), http.StatusNotFound, "not_found")
	if d.Message != "no route for GET /no/such/route" {
		t.Errorf("404 message %q", d.Message)
	}

	resp := srv.do(t, http.MethodPut, "/widgets", nil, nil)
	readError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := resp.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q, want POST", got)
	}
	resp = srv.do(t, http.MethodPost, "/widgets/1", nil, nil)
	readError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := resp.Header.Get("Allow"); got != "GET" {
		t.Errorf("Allow = %q, want GET", got)
	}
	srv.assertServing(t)
}
