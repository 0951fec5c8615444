// Package webhooks sends a workspace's events to the HTTP endpoints its
// admins registered, signed per Standard Webhooks 1.0.
//
// Create registers an endpoint and returns its signing secret once
// (whsec_…); List, Delete and RotateSecret manage them. Trigger records one
// delivery per enabled endpoint of the workspace in the app database:
// called with the *db.Store a Tx hands to its function, the deliveries are
// written in that transaction, so an event is sent if and only if the
// change it announces committed (a transactional outbox). No Redis is
// needed.
//
// A Dispatcher runs on every instance: it claims due deliveries with a
// lease in the database (each is sent by one instance at a time), sends
// them, records every attempt and schedules the next one on the Standard
// Webhooks schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
// 10 h). A delivery keeps its webhook-id across retries and restarts: a
// dispatcher stopped or killed mid-send leaves the delivery to be sent
// again, with the same id, by the next one.
//
// Endpoints are dialed through an SSRF guard that checks the resolved
// address at connect time: loopback, private, link-local, unique-local,
// CGNAT, cloud metadata, unspecified and multicast addresses (and their
// IPv4-mapped forms) are refused unless DispatcherOptions.AllowPrivate.
package webhooks
