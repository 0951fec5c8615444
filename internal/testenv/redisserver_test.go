package testenv

import (
	"net"
	"testing"
)

func TestRedisServerKillRestart(t *testing.T) {
	t.Parallel()
	s := StartRedis(t)
	url := s.URL()
	if err := s.ping(); err != nil {
		t.Fatalf("a started server: %v", err)
	}
	s.Kill()
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Fatal("a killed server still accepts connections")
	}
	s.Kill() // again: nothing happens
	s.Restart()
	if err := s.ping(); err != nil || s.URL() != url {
		t.Fatalf("restarted server: %v, URL %s (was %s)", err, s.URL(), url)
	}
}
