package devdocker

import (
	"errors"
	"net"
)

// mysql runs MariaDB, which speaks the MySQL protocol, for mysql:// URLs.
type mysql struct{}

var _ service = mysql{}

func (mysql) name() string      { return "MySQL" }
func (mysql) container() string { return "appkernel-mysql" }
func (mysql) image() string     { return "mariadb:11" }
func (mysql) port() string      { return "3306" }

func (mysql) config(t target) (containerConfig, error) {
	var c containerConfig
	if t.database != "" {
		c.env = append(c.env, "MARIADB_DATABASE="+t.database)
	}
	if t.user == "" || t.user == "root" {
		if t.password != "" {
			c.secrets = append(c.secrets, "MARIADB_ROOT_PASSWORD="+t.password)
		} else {
			c.env = append(c.env, "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1")
		}
		return c, nil
	}
	if t.password == "" {
		// The image creates MARIADB_USER only together with a password.
		return c, errors.New("the image creates a user other than root only with a password: put one in the URL, or connect as root")
	}
	// The user gets all rights on MARIADB_DATABASE; root gets the same
	// password so a developer can administer the server with it.
	c.env = append(c.env, "MARIADB_USER="+t.user)
	c.secrets = append(c.secrets, "MARIADB_PASSWORD="+t.password, "MARIADB_ROOT_PASSWORD="+t.password)
	return c, nil
}

// greet reads the handshake a MySQL server sends first on every connection.
func (mysql) greet(conn net.Conn) error { return readOne(conn) }
