package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"appkernel/middleware"
)

func TestRealIP(t *testing.T) {
	t.Parallel()
	trusted := []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"}
	cases := []struct {
		name       string
		remoteAddr string
		xff        []string
		xRealIP    string
		wantIP     string
		wantRemote string
	}{
		{"no proxy", "203.0.113.5:4000", nil, "", "203.0.113.5", "203.0.113.5:4000"},
		{"untrusted peer's XFF is ignored", "203.0.113.5:4000", []string{"1.1.1.1"}, "", "203.0.113.5", "203.0.113.5:4000"},
		{"untrusted peer's X-Real-IP is ignored", "203.0.113.5:4000", nil, "1.1.1.1", "203.0.113.5", "203.0.113.5:4000"},
		{"trusted peer, one hop", "10.0.0.2:4000", []string{"198.51.100.7"}, "", "198.51.100.7", "198.51.100.7"},
		{"client-prepended hops are not believed", "10.0.0.2:4000", []string{"6.6.6.6, 198.51.100.7"}, "", "198.51.100.7", "198.51.100.7"},
		{"trusted hops skipped right to left", "10.0.0.2:4000", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9, 192.168.1.1"}, "", "198.51.100.7", "198.51.100.7"},
		{"several header lines", "10.0.0.2:4000", []string{"6.6.6.6", "198.51.100.7, 10.1.1.1"}, "", "198.51.100.7", "198.51.100.7"},
		{"all hops trusted: farthest", "10.0.0.2:4000", []string{"10.3.3.3, 10.4.4.4"}, "", "10.3.3.3", "10.3.3.3"},
		{"garbage hop stops the walk", "10.0.0.2:4000", []string{"6.6.6.6, not-an-ip, 10.4.4.4"}, "", "10.4.4.4", "10.4.4.4"},
		{"garbage only: the peer", "10.0.0.2:4000", []string{"<script>"}, "", "10.0.0.2", "10.0.0.2:4000"},
		{"hop with port", "10.0.0.2:4000", []string{"198.51.100.7:5555"}, "", "198.51.100.7", "198.51.100.7"},
		{"X-Real-IP from trusted peer", "10.0.0.2:4000", nil, "198.51.100.8", "198.51.100.8", "198.51.100.8"},
		{"XFF wins over X-Real-IP", "10.0.0.2:4000", []string{"198.51.100.7"}, "198.51.100.8", "198.51.100.7", "198.51.100.7"},
		{"IPv6 trusted peer", "[fd00::1]:4000", []string{"2001:db8::7"}, "", "2001:db8::7", "2001:db8::7"},
		{"IPv4-mapped IPv6 peer", "[::ffff:10.0.0.2]:4000", []string{"198.51.100.7"}, "", "198.51.100.7", "198.51.100.7"},
		{"single trusted IP", "192.168.1.1:4000", []string{"198.51.100.7"}, "", "198.51.100.7", "198.51.100.7"},
		{"neighbour of single trusted IP", "192.168.1.2:4000", []string{"198.51.100.7"}, "", "192.168.1.2", "192.168.1.2:4000"},
		{"untrusted IPv6 peer: address without brackets", "[2001:db8::9]:4000", []string{"198.51.100.7"}, "", "2001:db8::9", "[2001:db8::9]:4000"},
		{"untrusted peer with a zone", "[fe80::1%eth0]:4000", []string{"198.51.100.7"}, "", "fe80::1%eth0", "[fe80::1%eth0]:4000"},
		{"trusted peer without a port", "10.0.0.2", []string{"198.51.100.7"}, "", "198.51.100.7", "198.51.100.7"},
		{"untrusted peer without a port", "203.0.113.5", []string{"198.51.100.7"}, "", "203.0.113.5", "203.0.113.5"},
		{"peer that is not an address", "pipe", []string{"198.51.100.7"}, "", "pipe", "pipe"},
	}
	mw, err := middleware.RealIP(trusted)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		var gotIP, gotRemote string
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotIP, _ = middleware.ClientIPFrom(r.Context())
			gotRemote = r.RemoteAddr
		}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.remoteAddr
		for _, v := range tc.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if tc.xRealIP != "" {
			req.Header.Set("X-Real-IP", tc.xRealIP)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if gotIP != tc.wantIP || gotRemote != tc.wantRemote {
			t.Errorf("%s: client IP %q, RemoteAddr %q; want %q, %q", tc.name, gotIP, gotRemote, tc.wantIP, tc.wantRemote)
		}
	}
}

func TestRealIPNoTrustedProxies(t *testing.T) {
	t.Parallel()
	mw, err := middleware.RealIP(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = middleware.ClientIPFrom(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.2:4000"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != "10.0.0.2" {
		t.Fatalf("client IP %q, want the peer", got)
	}
}

func TestRealIPRejectsBadProxies(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "10.0.0/8", "example.com", "10.0.0.300", "fd00::/129"} {
		if _, err := middleware.RealIP([]string{"10.0.0.1", bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("RealIP(%q): err = %v, want an error naming it", bad, err)
		}
	}
	if _, err := middleware.RealIP([]string{" 10.0.0.0/8 ", "", "::1"}); err != nil {
		t.Errorf("valid list refused: %v", err)
	}
}

// TestRealIPSpoofOverHTTP: a client that is not a trusted proxy cannot set
// its address with X-Forwarded-For, end to end.
func TestRealIPSpoofOverHTTP(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{TrustedProxies: []string{"10.0.0.0/8"}})
	resp := srv.do(t, http.MethodGet, "/ip", nil, map[string]string{"X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"})
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["client_ip"] != "127.0.0.1" {
		t.Fatalf("client IP %q, want the real peer 127.0.0.1", got["client_ip"])
	}
	line := srv.logs.accessLine(t, resp.Header.Get("X-Request-ID"))
	if line["client_ip"] != "127.0.0.1" {
		t.Fatalf("access line client_ip %v", line["client_ip"])
	}
	srv.assertServing(t)
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.9":                "203.0.113.9",
		"::ffff:203.0.113.9":         "203.0.113.9",
		"2001:db8:1:2::1":            "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:0:1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":            "2001:db8:1:3::/64",
		"fe80::1%eth0":               "fe80::/64",
		"::1":                        "::/64",
		"pipe":                       "pipe",
		"":                           "",
	} {
		if got := middleware.ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
