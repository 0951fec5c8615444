package devdocker

import (
	"context"
	"fmt"
	"strings"
)

// Started describes a container Ensure started.
type Started struct {
	// Service is "PostgreSQL", "MySQL" or "Redis".
	Service string
	// Container is the container's name, e.g. "appkernel-postgres".
	Container string
	// Addr is host:port as written in the URL, e.g. "localhost:5432".
	Addr string
	// URL is the URL the container serves, with its password masked.
	URL string
	// Created is true when docker run created the container, false when an
	// existing container was started with docker start.
	Created bool
}

// Ensure starts a local container for each URL that needs one: a
// postgres://, postgresql://, mysql:// or redis:// URL on localhost,
// 127.0.0.1 or ::1 whose port does not answer. URLs that are remote, already
// answering, empty, SQLite, unparseable or of another scheme are left alone.
// It returns what it started, in the order of urls, once each started
// server answers; a server that does not answer within Options.Wait is an
// error. On an error it also returns what it had started before.
//
// With Options.Enabled false Ensure does nothing. When a container is needed
// but Docker is unavailable (no CLI, or `docker info` fails), Ensure logs one
// INFO line saying why and returns no error: the caller then fails with its
// normal connection error. Every error names the service and the URL with its
// password masked.
func Ensure(ctx context.Context, opts Options, urls ...string) ([]Started, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if !opts.Enabled {
		log.DebugContext(ctx, "dev auto-start: off")
		return nil, nil
	}

	var need []target
	for _, raw := range urls {
		t, ok := parseTarget(raw)
		if !ok {
			continue
		}
		if answering(ctx, t.addr()) {
			log.DebugContext(ctx, "dev auto-start: already answering", "service", t.svc.name(), "addr", t.addr())
			continue
		}
		need = append(need, t)
	}
	if len(need) == 0 {
		return nil, nil
	}

	docker, why := findDocker(ctx, opts.Docker)
	if why != "" {
		names := make([]string, len(need))
		for i, t := range need {
			names[i] = t.svc.name() + " at " + t.addr()
		}
		log.InfoContext(ctx, "dev auto-start: nothing started, docker is not available",
			"reason", why, "not_answering", strings.Join(names, ", "))
		return nil, nil
	}

	// One container per service: two URLs may share it only at one address.
	byContainer := map[string]target{}
	var todo []target
	for _, t := range need {
		prev, ok := byContainer[t.svc.container()]
		if !ok {
			byContainer[t.svc.container()] = t
			todo = append(todo, t)
			continue
		}
		if prev.addr() != t.addr() {
			return nil, fmt.Errorf("devdocker: %s at %s and at %s: both would need the one container %s; point both URLs at one port, or start the second server yourself",
				t.svc.name(), prev.masked, t.masked, t.svc.container())
		}
	}

	var started []Started
	for _, t := range todo {
		s, err := start(ctx, docker, t, opts)
		if err != nil {
			return started, err
		}
		log.InfoContext(ctx, fmt.Sprintf("✓ %s started at %s", s.Service, s.Addr),
			"container", s.Container, "created", s.Created)
		started = append(started, s)
	}
	return started, nil
}

// start runs or starts t's container and waits for its server.
func start(ctx context.Context, docker dockerCLI, t target, opts Options) (Started, error) {
	name := t.svc.container()
	fail := func(format string, args ...any) error {
		msg := scrub(fmt.Sprintf(format, args...), t.password)
		return fmt.Errorf("devdocker: %s at %s: %s", t.svc.name(), t.masked, msg)
	}
	s := Started{Service: t.svc.name(), Container: name, Addr: t.addr(), URL: t.masked}

	exists, err := docker.exists(ctx, name)
	if err != nil {
		return s, fail("%v", err)
	}
	if !exists {
		cfg, err := t.svc.config(t)
		if err != nil {
			return s, fail("cannot create container %s: %v", name, err)
		}
		if _, err := docker.run(ctx, runTimeout, cfg.secrets, runArgs(t, cfg)...); err != nil {
			// Another process may have created it meanwhile; use theirs.
			if again, _ := docker.exists(ctx, name); !again {
				return s, fail("%v", err)
			}
			exists = true
		} else {
			s.Created = true
		}
	}
	if exists {
		if _, err := docker.run(ctx, commandTimeout, nil, "start", name); err != nil {
			return s, fail("%v", err)
		}
	}

	if !waitReady(ctx, t, opts.Wait) {
		if err := ctx.Err(); err != nil {
			return s, fmt.Errorf("devdocker: %s at %s: waiting for container %s: %w", t.svc.name(), t.masked, name, err)
		}
		hint := fmt.Sprintf("see `docker logs %s`", name)
		if !s.Created {
			hint += fmt.Sprintf("; the existing container may publish another port: `docker rm -f %s` lets the next start create it from the URL", name)
		}
		return s, fail("container %s did not answer within %s; %s", name, opts.Wait, hint)
	}
	return s, nil
}

// runArgs is the docker run command line for t. It holds no password:
// secrets are named with -e NAME and take their value from docker's
// environment.
func runArgs(t target, cfg containerConfig) []string {
	bind := "127.0.0.1"
	if t.host == "::1" {
		bind = "[::1]"
	}
	args := []string{"run", "-d", "--name", t.svc.container(),
		// Loopback only: a development server with a trivial or no password
		// must not be reachable from the network.
		"-p", bind + ":" + t.port + ":" + t.svc.port()}
	for _, e := range cfg.env {
		args = append(args, "-e", e)
	}
	for _, e := range cfg.secrets {
		k, _, _ := strings.Cut(e, "=")
		args = append(args, "-e", k)
	}
	args = append(args, t.svc.image())
	return append(args, cfg.command...)
}
