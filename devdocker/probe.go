package devdocker

import (
	"context"
	"net"
	"time"
)

const (
	// dialTimeout bounds the check whether something already listens.
	dialTimeout = 500 * time.Millisecond
	// greetTimeout bounds one readiness probe.
	greetTimeout = time.Second
	// pollInterval separates readiness probes while a container starts.
	pollInterval = 200 * time.Millisecond
)

// answering reports whether anything accepts TCP connections at addr.
func answering(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// ready reports whether t's server answers its protocol. A bare TCP accept
// is not enough: Docker's port forwarder accepts connections before the
// server in the container listens.
func ready(ctx context.Context, t target) bool {
	ctx, cancel := context.WithTimeout(ctx, greetTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr())
	if err != nil {
		return false
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return false
	}
	return t.svc.greet(conn) == nil
}

// waitReady polls until t's server answers, wait elapses or ctx ends.
func waitReady(ctx context.Context, t target, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if ready(ctx, t) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
