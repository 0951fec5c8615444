package testenv_test

import (
	"net"
	"testing"
	"time"

	"appkernel/internal/testenv"
)

func TestRedisServerKillRestart(t *testing.T) {
	t.Parallel()
	s := testenv.StartRedis(t)
	url := s.URL()
	answers := func() bool {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		b := make([]byte, 7)
		n, _ := c.Read(b)
		return string(b[:n]) == "+PONG\r\n"
	}
	if !answers() {
		t.Fatal("a started server does not answer PING")
	}
	s.Kill()
	if answers() {
		t.Fatal("a killed server answers")
	}
	s.Kill() // again: nothing happens
	s.Restart()
	if !answers() || s.URL() != url {
		t.Fatalf("restarted server: answers %v, URL %s (was %s)", answers(), s.URL(), url)
	}
}
