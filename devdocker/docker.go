package devdocker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Bounds on docker commands, beside the caller's context. docker run may
// pull an image first, which is why it gets longer than the others.
const (
	infoTimeout    = 10 * time.Second
	commandTimeout = 30 * time.Second
	runTimeout     = 5 * time.Minute
)

// dockerCLI runs one docker executable.
type dockerCLI struct {
	path string
}

// findDocker returns the docker CLI when it exists and reaches an engine.
// Otherwise it returns the reason, fit for a log line.
func findDocker(ctx context.Context, name string) (dockerCLI, string) {
	path, err := exec.LookPath(name)
	if err != nil {
		return dockerCLI{}, fmt.Sprintf("docker CLI %q not found: %v", name, err)
	}
	d := dockerCLI{path: path}
	if _, err := d.run(ctx, infoTimeout, nil, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return dockerCLI{}, err.Error()
	}
	return d, ""
}

// run runs docker with args and returns its standard output. secrets are
// NAME=value pairs added to docker's environment, never to its arguments.
// The error names the subcommand, the exit status and the last line docker
// wrote to standard error.
func (d dockerCLI) run(parent context.Context, timeout time.Duration, secrets []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.path, args...)
	if len(secrets) > 0 {
		cmd.Env = append(os.Environ(), secrets...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // do not hang on a child that keeps the pipes open
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if perr := parent.Err(); perr != nil {
		// The caller's context ended (not our own timeout): say so, so
		// callers can tell with errors.Is.
		return "", fmt.Errorf("docker %s: %w", args[0], perr)
	}
	msg := fmt.Sprintf("docker %s: %v", args[0], err)
	if ctx.Err() != nil {
		msg = fmt.Sprintf("docker %s: no answer within %s", args[0], timeout)
	}
	if line := lastLine(stderr.String()); line != "" {
		msg += ": " + line
	}
	return "", fmt.Errorf("%s", msg)
}

// exists reports whether a container named name exists, running or not.
func (d dockerCLI) exists(ctx context.Context, name string) (bool, error) {
	// The name filter matches substrings, so the names are compared here.
	out, err := d.run(ctx, commandTimeout, nil, "ps", "-a", "--filter", "name="+name, "--format", "{{.Names}}")
	if err != nil {
		return false, err
	}
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == name {
			return true, nil
		}
	}
	return false, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
