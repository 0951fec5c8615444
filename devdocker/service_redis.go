package devdocker

import (
	"errors"
	"net"
)

// redis runs Redis from the official image.
type redis struct{}

var _ service = redis{}

func (redis) name() string      { return "Redis" }
func (redis) container() string { return "appkernel-redis" }
func (redis) image() string     { return "redis:7-alpine" }
func (redis) port() string      { return "6379" }

func (redis) config(t target) (containerConfig, error) {
	if t.user != "" && t.user != "default" {
		return containerConfig{}, errors.New("only the default Redis user is supported: remove the user name from the URL, keep the password")
	}
	if t.password == "" {
		return containerConfig{}, nil
	}
	// The password goes through the environment, not the command line;
	// the image's entrypoint still drops root before starting the server.
	return containerConfig{
		secrets: []string{"REDIS_PASSWORD=" + t.password},
		command: []string{"sh", "-c", `exec docker-entrypoint.sh redis-server --requirepass "$REDIS_PASSWORD"`},
	}, nil
}

// greet sends PING: any reply (+PONG, or -NOAUTH with a password) proves the
// server answers.
func (redis) greet(conn net.Conn) error {
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	return readOne(conn)
}
