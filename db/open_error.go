package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Reasons Open fails to reach a database. An *OpenError matches one of them
// with errors.Is; callers that start a service can branch on them.
var (
	// ErrMalformedURL: the URL is not one of the accepted forms (see URLForms).
	ErrMalformedURL = errors.New("malformed database URL")
	// ErrUnknownHost: the URL's host name does not resolve.
	ErrUnknownHost = errors.New("unknown database host")
	// ErrConnectionRefused: nothing listens at the URL's host and port.
	ErrConnectionRefused = errors.New("database connection refused")
	// ErrAuthFailed: the server refused the URL's user or password.
	ErrAuthFailed = errors.New("database authentication failed")
	// ErrNoDatabase: the server has no database of the URL's name.
	ErrNoDatabase = errors.New("database does not exist")
	// ErrNotWritable: the folder of a SQLite file cannot be created or written.
	ErrNotWritable = errors.New("database folder not writable")
	// ErrTimeout: the server did not answer before the context's deadline.
	ErrTimeout = errors.New("database does not answer")
)

// URLForms are the accepted forms of a database URL.
const URLForms = "sqlite:///./relative.db, sqlite:////absolute.db, sqlite://:memory:, " +
	"postgres://user:pass@host:5432/name (or postgresql://), mysql://user:pass@host:3306/name"

// OpenError reports why Open could not open a database, and what to do. It
// matches its Reason (one of ErrMalformedURL, ErrUnknownHost,
// ErrConnectionRefused, ErrAuthFailed, ErrNoDatabase, ErrNotWritable,
// ErrTimeout, or nil when the cause is none of those) and its Err with
// errors.Is and errors.As.
type OpenError struct {
	URL    string // the URL, its password masked.
	Reason error  // one of the sentinels above, or nil.
	Fix    string // what to do about it, in a sentence.
	Err    error  // the driver's or the system's error.
}

func (e *OpenError) Error() string {
	what := "cannot open the database"
	if e.Reason != nil {
		what = e.Reason.Error()
	}
	msg := "db: " + e.URL + ": " + what
	if e.Fix != "" {
		msg += ": " + e.Fix
	}
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

// Unwrap returns the reason and the cause.
func (e *OpenError) Unwrap() []error {
	var errs []error
	if e.Reason != nil {
		errs = append(errs, e.Reason)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// malformed is the OpenError of a URL Open cannot read; why says what is wrong.
func malformed(raw, why string, err error) error {
	return &OpenError{URL: redact(raw), Reason: ErrMalformedURL, Fix: why + "; the accepted forms are " + URLForms, Err: err}
}

// openError explains err, met while connecting to the database at raw.
func openError(ctx context.Context, raw string, err error) error {
	var oe *OpenError
	if errors.As(err, &oe) {
		return err
	}
	e := &OpenError{URL: redact(raw), Err: err}
	u, _ := url.Parse(raw)
	var host, port, user, name string
	if u != nil {
		host, port, name = u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/")
		if u.User != nil {
			user = u.User.Username()
		}
	}
	var (
		pe  *pgconn.PgError
		me  *mysql.MySQLError
		se  *sqlite.Error
		dns *net.DNSError
		ne  net.Error
	)
	switch {
	case errors.As(err, &pe) && pe.Code == "3D000", errors.As(err, &me) && me.Number == 1049:
		e.Reason, e.Fix = ErrNoDatabase, createCommand(raw, host, port, user, name)
	case errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000"),
		errors.As(err, &me) && (me.Number == 1045 || me.Number == 1044 || me.Number == 1698):
		e.Reason, e.Fix = ErrAuthFailed, fmt.Sprintf("check the user (%q) and password in the URL, and that the server lets this user in from this host", user)
	case errors.As(err, &dns) && !dns.IsTimeout:
		e.Reason, e.Fix = ErrUnknownHost, fmt.Sprintf("the host name %q does not resolve: check its spelling, or the DNS of this machine", dns.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason, e.Fix = ErrConnectionRefused, fmt.Sprintf("nothing listens at %s: start the database, or correct the host and port", net.JoinHostPort(host, port))
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		e.Reason, e.Fix = ErrTimeout, "check that the host and port are the database's and that no firewall drops the connection"
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EROFS),
		errors.As(err, &se) && (se.Code()&0xff == 14 || se.Code()&0xff == 8): // SQLITE_CANTOPEN, SQLITE_READONLY
		e.Reason, e.Fix = ErrNotWritable, "the process cannot create or write the database file there: create the folder with write access for this user, or choose another path"
	case ctx.Err() != nil:
		e.Reason, e.Fix = ErrTimeout, "it did not answer before Open was cancelled"
	}
	return e
}

// createCommand is the command that creates the database name, for the
// dialect of raw.
func createCommand(raw, host, port, user, name string) string {
	if strings.HasPrefix(strings.ToLower(raw), "mysql") || strings.HasPrefix(strings.ToLower(raw), "mariadb") {
		if port == "" {
			port = "3306"
		}
		return fmt.Sprintf("create it: mysql -h %s -P %s -u %s -p -e 'CREATE DATABASE `%s` CHARACTER SET utf8mb4'", host, port, user, name)
	}
	if port == "" {
		port = "5432"
	}
	return fmt.Sprintf("create it: createdb -h %s -p %s -U %s %s (or CREATE DATABASE \"%s\" in psql)", host, port, user, name, name)
}
