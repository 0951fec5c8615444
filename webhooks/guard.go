package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrBlockedAddress: the endpoint's host resolved to an address the SSRF
// guard refuses (loopback, private, link-local, …). A delivery that meets
// it fails without retry.
var ErrBlockedAddress = errors.New("webhooks: endpoint address is not public")

// blockedPrefixes are the ranges refused besides what netip's predicates
// name (loopback, private incl. fc00::/7, link-local, multicast,
// unspecified).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),      // CGNAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved, broadcast
	netip.MustParsePrefix("169.254.169.254/32"), // cloud metadata (also link-local)
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS metadata over IPv6 (also unique-local)
	netip.MustParsePrefix("::/96"),              // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),           // discard-only
}

// embeddedV4 are IPv6 ranges that carry an IPv4 address a gateway may
// forward to: the embedded address is checked too.
var embeddedV4 = []struct {
	prefix netip.Prefix
	offset int // byte offset of the IPv4 address
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12}, // NAT64
	{netip.MustParsePrefix("2002::/16"), 2},     // 6to4
}

// Blocked reports whether the SSRF guard refuses to connect to ip.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		for _, e := range embeddedV4 {
			if e.prefix.Contains(ip) && Blocked(netip.AddrFrom4([4]byte(b[e.offset:e.offset+4]))) {
				return true
			}
		}
	}
	return false
}

// guardControl is a net.Dialer.ControlContext that refuses blocked
// addresses. It runs on the resolved address of every connection the
// client opens (redirects and DNS rebinding included) before it connects.
func guardControl(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s %s", ErrBlockedAddress, network, address)
	}
	if Blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, ap.Addr())
	}
	return nil
}

// newDialer returns the dialer of the dispatcher's client.
func newDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: keepAlive}
	if !allowPrivate {
		d.ControlContext = guardControl
	}
	return d
}
