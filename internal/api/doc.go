// Package api is CareGate's JSON API under /api/v1. It offers the portal's
// actions to scripts and other systems, authenticated by API token (Bearer
// cgt_…) or by the portal session, and describes itself in an OpenAPI 3.1
// document generated from the same route table that registers the handlers,
// so the two cannot drift apart.
//
// Handlers are thin: they decode the request, call one domain service, and
// encode the result. Who may do what is decided by the domain services
// (which return errs.Forbidden); the handlers check roles themselves only
// where a service takes no principal (user accounts, the audit trail, the
// demo clock). Every error leaves as application/problem+json (RFC 9457),
// with internal detail logged under the request ID and never sent.
package api
