package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestBlockedAddressClasses(t *testing.T) {
	for _, c := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},        // loopback
		{"127.255.0.9", true},      // loopback
		{"::1", true},              // loopback
		{"10.1.2.3", true},         // RFC 1918
		{"172.16.0.1", true},       // RFC 1918
		{"172.31.255.255", true},   // RFC 1918
		{"192.168.1.1", true},      // RFC 1918
		{"169.254.169.254", true},  // cloud metadata
		{"169.254.1.1", true},      // link-local
		{"fe80::1", true},          // link-local
		{"fc00::1", true},          // unique-local
		{"fd12:3456::1", true},     // unique-local
		{"fd00:ec2::254", true},    // AWS metadata over IPv6
		{"100.64.0.1", true},       // CGNAT
		{"100.127.255.254", true},  // CGNAT
		{"0.0.0.0", true},          // unspecified
		{"::", true},               // unspecified
		{"0.1.2.3", true},          // "this network"
		{"224.0.0.1", true},        // multicast
		{"239.255.255.250", true},  // multicast
		{"ff02::1", true},          // multicast
		{"255.255.255.255", true},  // broadcast
		{"::ffff:127.0.0.1", true}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", true},  // IPv4-mapped private
		{"::ffff:169.254.169.254", true},
		{"::127.0.0.1", true},        // IPv4-compatible
		{"64:ff9b::7f00:1", true},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"2002:7f00:1::1", true},     // 6to4 of 127.0.0.1
		{"93.184.216.34", false},     // public
		{"8.8.8.8", false},
		{"100.128.0.1", false}, // just past CGNAT
		{"172.32.0.1", false},  // just past RFC 1918
		{"2606:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
	} {
		if got := Blocked(netip.MustParseAddr(c.addr)); got != c.blocked {
			t.Errorf("Blocked(%s) = %v, want %v", c.addr, got, c.blocked)
		}
	}
}

// The guard runs at connect time on the resolved address: an endpoint on
// 127.0.0.1 is never reached, given as an IP or as a name that resolves
// to loopback.
func TestGuardRefusesLoopbackAtDialTime(t *testing.T) {
	store := openStore(t, "sqlite")
	rc := newReceiver(t, nil)
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":")+1:]
	byIP, _ := mustCreate(t, store, "ws1", rc.srv.URL)
	byName, _ := mustCreate(t, store, "ws2", "http://localhost:"+port+"/hook")
	opts := fastOptions(store)
	opts.AllowPrivate = false
	startDispatcher(t, opts)
	for _, ws := range []string{"ws1", "ws2"} {
		if err := Trigger(context.Background(), store, ws, "a.b", 1); err != nil {
			t.Fatal(err)
		}
	}
	for ws, wh := range map[string]Webhook{"ws1": byIP, "ws2": byName} {
		d := waitDelivery(t, store, ws, wh.ID, stateFailed)
		if d.AttemptCount != 1 || !strings.Contains(d.Attempts[0].Error, ErrBlockedAddress.Error()) {
			t.Fatalf("%s: %+v", wh.URL, d)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}

// The dispatcher's client has the guard in its dialer: a plain request to
// 127.0.0.1 fails before connecting, with ErrBlockedAddress, and proxies
// from the environment are not used.
func TestGuardedClientRefusesARealDial(t *testing.T) {
	rc := newReceiver(t, nil)
	t.Setenv("HTTP_PROXY", rc.srv.URL)
	d, err := NewDispatcher(DispatcherOptions{Store: openStore(t, "sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", rc.srv.URL, nil)
	if _, err := d.client.Do(req); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("dial to %s: %v, want ErrBlockedAddress", rc.srv.URL, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	req, _ = http.NewRequestWithContext(short, "GET", "http://203.0.113.1:9/", nil) // public-looking, unroutable
	_, _ = d.client.Do(req)
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the request went through the environment's proxy (%d requests)", n)
	}
}
