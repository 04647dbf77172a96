// Package access owns record accounts and the access requests that change
// them: new user, amendment, reactivation, deactivation and deletion. A site
// authoriser or a service-desk member raises a request for someone of their
// organisation; it is validated by the organisation's service desk (or counts
// as validated when an authoriser of an organisation without one raises it);
// the back office actions it within an SLA of working days. Every transition
// is audited and recorded in the request's history in the same transaction,
// and the people concerned are e-mailed through the outbox in that
// transaction too.
package access
