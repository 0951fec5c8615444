package appkernel_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"appkernel"
	"appkernel/kerneltest"
)

// /healthz gets what every response gets, a request ID and the security
// headers (before, it was answered ahead of the stack, without them), and
// stays out of the access log.
func TestHealthzHasRequestIDAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.TrustedProxies = []string{"127.0.0.1", "::1"}
	}})
	c := tk.Client()
	res := c.Get(t, "/healthz").Expect(t, http.StatusOK)
	if id := res.Header.Get("X-Request-ID"); len(id) != 36 {
		t.Fatalf("X-Request-ID %q, want a new UUID", id)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Content-Type":            "application/json",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("/healthz %s: %q, want %q", h, got, want)
		}
	}
	if res.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS on plain HTTP")
	}

	c.Header = http.Header{"X-Request-Id": {"probe-42"}, "X-Forwarded-Proto": {"https"}}
	res = c.Get(t, "/healthz").Expect(t, http.StatusOK)
	if id := res.Header.Get("X-Request-ID"); id != "probe-42" {
		t.Fatalf("X-Request-ID %q, want the probe's own probe-42 echoed", id)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no HSTS behind a trusted proxy that says https")
	}
	c.Header = http.Header{"X-Request-Id": {`not "safe"; <script>`}}
	if id := c.Get(t, "/healthz").Expect(t, http.StatusOK).Header.Get("X-Request-ID"); len(id) != 36 {
		t.Fatalf("an unsafe X-Request-ID was echoed as %q", id)
	}

	c.Do(t, http.MethodHead, "/healthz", nil).Expect(t, http.StatusOK)
	if logs := tk.Logs.String(); strings.Contains(logs, "/healthz") || strings.Contains(logs, "probe-42") {
		t.Fatalf("/healthz reached the access log:\n%s", logs)
	}
}

// 50 probes of /readyz at once share one round of checks: every answer
// carries the same measured ping.
func TestReadyzFloodSharesOneRound(t *testing.T) {
	t.Parallel()
	tk := kerneltest.New(t, nil)
	c := tk.Client()
	bodies := make([]string, 50)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = string(c.Get(t, "/readyz").Expect(t, http.StatusOK).Body)
		}()
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("probes got different rounds of checks:\n%s\n%s", bodies[0], b)
		}
	}
}
