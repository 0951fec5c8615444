package devdocker

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// service is one kind of server devdocker can run in a container. Each
// implementation lives in its own file (service_postgres.go, ...).
type service interface {
	// name is the human name used in logs and errors: "PostgreSQL".
	name() string
	// container is the persistent container's name: "appkernel-postgres".
	container() string
	// image is the image docker run uses.
	image() string
	// port is the port the server listens on inside the container.
	port() string
	// config derives the container's settings from the URL.
	config(t target) (containerConfig, error)
	// greet performs the smallest exchange that proves the server (not only
	// a port forwarder in front of a server still starting) answers.
	greet(conn net.Conn) error
}

// containerConfig is what docker run needs beyond name, port and image.
type containerConfig struct {
	env     []string // NAME=value pairs that carry no secret, passed as -e NAME=value
	secrets []string // NAME=value pairs passed as -e NAME, the value through docker's own environment
	command []string // optional command after the image
}

// target is a URL that names a server on this machine.
type target struct {
	svc      service
	masked   string // the URL with its password replaced; safe to log
	host     string // host as written in the URL, without brackets
	port     string
	user     string
	password string
	database string
}

// addr is host:port to dial.
func (t target) addr() string { return net.JoinHostPort(t.host, t.port) }

// parseTarget returns the target of raw, or false when raw is none of
// devdocker's business: empty, unparseable, of another scheme, without a host
// (a Unix socket), or on a remote host.
func parseTarget(raw string) (target, bool) {
	if strings.TrimSpace(raw) == "" {
		return target{}, false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, false
	}
	var svc service
	switch u.Scheme {
	case "postgres", "postgresql":
		svc = postgres{}
	case "mysql":
		svc = mysql{}
	case "redis":
		svc = redis{}
	default:
		return target{}, false
	}
	if !isLocalHost(u.Hostname()) {
		return target{}, false
	}
	port := u.Port()
	if port == "" {
		port = svc.port()
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return target{}, false
	}
	t := target{
		svc:      svc,
		masked:   maskURL(u),
		host:     u.Hostname(),
		port:     port,
		user:     u.User.Username(),
		database: strings.TrimPrefix(u.Path, "/"),
	}
	t.password, _ = u.User.Password()
	// PostgreSQL also accepts user and password as query parameters.
	if svc.name() == (postgres{}).name() {
		q := u.Query()
		if v := q.Get("user"); t.user == "" && v != "" {
			t.user = v
		}
		if v := q.Get("password"); t.password == "" && v != "" {
			t.password = v
		}
	}
	return t, true
}

// isLocalHost reports whether host names this machine's loopback interface.
func isLocalHost(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// maskedPassword replaces passwords in everything devdocker shows.
const maskedPassword = "xxxxx"

// maskURL returns u as a string with the password of its user info and of
// any query parameter whose name contains "password" replaced.
func maskURL(u *url.URL) string {
	c := *u
	if _, ok := c.User.Password(); ok {
		c.User = url.UserPassword(c.User.Username(), maskedPassword)
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, maskedPassword)
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

// scrub removes password, raw and URL-escaped, from s (text docker printed).
func scrub(s, password string) string {
	if password == "" {
		return s
	}
	s = strings.ReplaceAll(s, password, maskedPassword)
	if esc := url.QueryEscape(password); esc != password {
		s = strings.ReplaceAll(s, esc, maskedPassword)
	}
	if esc := url.PathEscape(password); esc != password {
		s = strings.ReplaceAll(s, esc, maskedPassword)
	}
	return s
}
