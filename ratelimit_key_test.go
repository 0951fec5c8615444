package appkernel

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"appkernel/middleware"
)

// TestRateLimitKeyGroupsIPv6By64 checks that anonymous clients are limited
// per IPv4 address and per IPv6 /64: rotating through the addresses of one
// /64 buys no fresh budget.
func TestRateLimitKeyGroupsIPv6By64(t *testing.T) {
	realIP, err := middleware.RealIP(nil)
	if err != nil {
		t.Fatal(err)
	}
	key := func(remote string) string {
		var got string
		h := realIP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = rateLimitKey(r) }))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = remote
		h.ServeHTTP(httptest.NewRecorder(), req)
		// Without the stack's state (no RealIP), the key comes from RemoteAddr alike.
		req2 := httptest.NewRequest(http.MethodGet, "/", nil)
		req2.RemoteAddr = remote
		if bare := rateLimitKey(req2); bare != got {
			t.Errorf("%s: key %q through RealIP, %q without", remote, got, bare)
		}
		return got
	}
	a, b := key("[2001:db8:1:2::1]:4000"), key("[2001:db8:1:2:ffff::9]:4001")
	if a != b || a != "ip:2001:db8:1:2::/64" {
		t.Errorf("two addresses of one /64: keys %q and %q, want both ip:2001:db8:1:2::/64", a, b)
	}
	if c := key("[2001:db8:1:3::1]:4000"); c == a {
		t.Errorf("the next /64 shares the key %q", c)
	}
	if x, y := key("203.0.113.1:4000"), key("203.0.113.2:4000"); x == y || x != "ip:203.0.113.1" {
		t.Errorf("IPv4 keys %q and %q, want one per address", x, y)
	}
}
