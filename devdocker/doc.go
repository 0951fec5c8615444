// Package devdocker starts local development databases in Docker when a
// service is configured to use one that is not running.
//
// Ensure looks at database and Redis URLs. For each URL that names
// PostgreSQL (postgres://, postgresql://), MySQL (mysql://, served by a
// MariaDB image) or Redis (redis://) on localhost, 127.0.0.1 or ::1, and
// whose port does not answer, it starts a persistent container with the
// user, password, database and port of the URL:
//
//	appkernel-postgres   postgres:16-alpine
//	appkernel-mysql      mariadb:11
//	appkernel-redis      redis:7-alpine
//
// A container that already exists is started again with `docker start`, so
// data survives restarts of the service; one that does not exist is created
// with `docker run`. Ensure then waits until the server behind the port
// speaks its protocol and logs a line such as
//
//	✓ PostgreSQL started at localhost:5432
//
// Remote hosts, ports that already answer, empty, SQLite and unknown URLs
// are never touched. Without a working Docker (no CLI, or `docker info`
// fails) Ensure logs one INFO line saying why and starts nothing: the
// service then fails later with its normal connection error.
//
// Passwords never appear in logs, errors or on the docker command line: they
// reach the container through the environment of the docker process
// (`-e NAME` without a value).
//
// The kernel calls Ensure before it opens its connections, with
// Options.Enabled false when DEV_AUTOSTART=false or APP_ENV=production.
package devdocker
