package devdocker

import (
	"encoding/binary"
	"net"
)

// postgres runs PostgreSQL from the official image.
type postgres struct{}

var _ service = postgres{}

func (postgres) name() string      { return "PostgreSQL" }
func (postgres) container() string { return "appkernel-postgres" }
func (postgres) image() string     { return "postgres:16-alpine" }
func (postgres) port() string      { return "5432" }

func (postgres) config(t target) (containerConfig, error) {
	user := t.user
	if user == "" {
		user = "postgres"
	}
	c := containerConfig{env: []string{"POSTGRES_USER=" + user}}
	if t.password != "" {
		c.secrets = append(c.secrets, "POSTGRES_PASSWORD="+t.password)
	} else {
		// The URL connects without a password; the image refuses to
		// initialise without one unless told to trust every connection.
		c.env = append(c.env, "POSTGRES_HOST_AUTH_METHOD=trust")
	}
	if t.database != "" {
		c.env = append(c.env, "POSTGRES_DB="+t.database)
	}
	return c, nil
}

// sslRequestCode is the PostgreSQL SSLRequest code: a server answers the
// 8-byte request with a single byte ('S' or 'N') before any authentication.
const sslRequestCode = 80877103

func (postgres) greet(conn net.Conn) error {
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], sslRequestCode)
	if _, err := conn.Write(req[:]); err != nil {
		return err
	}
	return readOne(conn)
}

// readOne reads a single byte: proof that a server, not only a forwarder,
// is at the other end.
func readOne(conn net.Conn) error {
	var b [1]byte
	_, err := conn.Read(b[:])
	return err
}
