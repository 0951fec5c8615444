// Package admin keeps the audit trail and usage metering of a service:
// audit events from the store's change observers and usage events from the
// metering middleware and TrackUsage are buffered in process, shipped in
// batches (a Redis stream with Redis, straight to the admin database
// without), persisted idempotently by the admin worker, and read back with
// AuditLogs, Usage and CheckQuota.
package admin
