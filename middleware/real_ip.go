package middleware

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// RealIP returns middleware that finds the client's IP address. The direct
// peer (r.RemoteAddr) is the client unless it is one of trustedProxies (IP
// addresses or CIDR prefixes such as "10.0.0.0/8"). Only then are
// X-Forwarded-For and, without it, X-Real-IP believed: X-Forwarded-For is
// read right to left, skipping hops that are trusted proxies themselves, and
// the first untrusted address is the client. A client can therefore prepend
// whatever it likes to X-Forwarded-For without being believed, and headers
// sent by an untrusted peer are ignored entirely.
//
// When a header supplies the client address, r.RemoteAddr is rewritten to
// it (a bare IP, no port). ClientIPFrom returns the address in every case.
// RealIP also records whether the peer is trusted, which SecurityHeaders
// uses to believe X-Forwarded-Proto.
//
// An entry of trustedProxies that is neither an IP nor a CIDR prefix is an
// error. An empty list trusts nobody.
func RealIP(trustedProxies []string) (func(http.Handler) http.Handler, error) {
	rip, err := newRealIP(trustedProxies)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, st := withState(r)
			client, trustedPeer, fromHeader := rip.resolve(r)
			st.clientIP = client
			st.trustedPeer = trustedPeer
			if fromHeader {
				r.RemoteAddr = client
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// ClientIPFrom returns the client's IP address as RealIP found it (a bare
// IP without port).
func ClientIPFrom(ctx context.Context) (string, bool) {
	st := stateFromContext(ctx)
	if st == nil || st.clientIP == "" {
		return "", false
	}
	return st.clientIP, true
}

func parseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("middleware: trusted proxy %q is not a valid CIDR prefix (want e.g. 10.0.0.0/8 or fd00::/8): %w", s, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("middleware: trusted proxy %q is not a valid IP address or CIDR prefix (want e.g. 10.0.0.1 or 10.0.0.0/8): %w", s, err)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

type realIP struct {
	trusted []netip.Prefix
}

func newRealIP(trustedProxies []string) (realIP, error) {
	var trusted []netip.Prefix
	for _, s := range trustedProxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := parseTrustedProxy(s)
		if err != nil {
			return realIP{}, err
		}
		trusted = append(trusted, p)
	}
	return realIP{trusted: trusted}, nil
}

func (rip realIP) isTrusted(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range rip.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolve returns the client address, whether the direct peer is trusted,
// and whether the address came from a forwarding header.
func (rip realIP) resolve(r *http.Request) (client string, trustedPeer, fromHeader bool) {
	host := r.RemoteAddr
	if len(rip.trusted) == 0 {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		return host, false, false
	}
	var peer netip.Addr
	if ap, err := netip.ParseAddrPort(host); err == nil {
		// The usual "ip:port" or "[ip]:port": one parse gives both.
		peer = ap.Addr()
		host = host[:strings.LastIndexByte(host, ':')]
		if host[0] == '[' {
			host = host[1 : len(host)-1]
		}
	} else {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		peer, _ = netip.ParseAddr(host)
	}
	if !peer.IsValid() || !rip.isTrusted(peer) {
		return host, false, false
	}
	if a, ok := rip.fromForwardedFor(r.Header["X-Forwarded-For"], peer); ok {
		return a.String(), true, true
	}
	if v := r.Header["X-Real-Ip"]; len(v) == 1 {
		if a, ok := parseHop(strings.TrimSpace(v[0])); ok {
			return a.String(), true, true
		}
	}
	return host, true, false
}

// fromForwardedFor walks the X-Forwarded-For hops from the nearest (right)
// to the farthest and returns the first one that is not a trusted proxy.
// When every hop is trusted it returns the farthest; at a hop that is not an
// IP address it stops and returns the last good one, since nothing beyond
// a garbled hop can be believed.
func (rip realIP) fromForwardedFor(lines []string, peer netip.Addr) (netip.Addr, bool) {
	last, found := peer, false
	for i := len(lines) - 1; i >= 0; i-- {
		v := lines[i]
		for v != "" {
			part := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				part, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, ok := parseHop(part)
			if !ok {
				return last, found
			}
			if !rip.isTrusted(a) {
				return a, true
			}
			last, found = a, true
		}
	}
	return last, found
}

// parseHop parses one forwarded address: an IP, or an IP with a port
// ("1.2.3.4:80", "[::1]:80"), as some proxies send.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// ClientKey returns the key under which per-client budgets (rate limits,
// login throttles) should count the client at ip: an IPv4 address as it
// is, an IPv6 address as its /64 network ("2001:db8:1:2::/64"), since one
// subscriber usually holds a whole /64 and could otherwise rotate through
// its addresses to get a fresh budget each time. IPv4-mapped IPv6 counts
// as IPv4; a value that is not an IP address is returned unchanged.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
