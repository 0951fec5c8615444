package devdocker

import (
	"fmt"
	"log/slog"
	"time"
)

// Options configures Ensure. The zero Options is valid and turns auto-start
// off; set Enabled to turn it on.
type Options struct {
	// Enabled turns auto-start on. When false, Ensure does nothing: no port
	// is dialled and docker is not run. The kernel sets it to false for
	// DEV_AUTOSTART=false and for APP_ENV=production. Defaults to false.
	Enabled bool

	// Docker is the docker executable: a name looked up on PATH or a path to
	// the file. Defaults to "docker".
	Docker string

	// Wait bounds how long Ensure waits, after `docker run` or
	// `docker start` returned, for the server in the container to answer.
	// A first start of PostgreSQL or MariaDB initialises its data directory,
	// which takes a few seconds. Defaults to 30s.
	Wait time.Duration

	// Logger receives one INFO line per started container, and one INFO line
	// saying why nothing was started when Docker is unavailable. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// DefaultWait is the default of Options.Wait.
const DefaultWait = 30 * time.Second

func (o Options) withDefaults() Options {
	if o.Docker == "" {
		o.Docker = "docker"
	}
	if o.Wait == 0 {
		o.Wait = DefaultWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o Options) validate() error {
	if o.Wait < 0 {
		return fmt.Errorf("devdocker: Options.Wait is %s; it must be positive, or 0 for the default %s", o.Wait, DefaultWait)
	}
	return nil
}
