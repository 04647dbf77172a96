// Package lifecycle holds the automatic rules of the access lifecycle, run as
// background jobs that read CareGate's clock:
//
//   - a pending invitation expires when its expiry time comes (30 days after
//     it was created) and stays in the history;
//   - an active record account not used for 90 days is deactivated (reason
//     inactivity), after a warning to the member 14 days before; the member
//     and the authorisers of their sites are told when it happens;
//   - a record account whose finishing date has come ends (reason
//     end_of_contract) with the person's memberships that end that day; the
//     authorisers (or, where a person has none, the organisation's service
//     desk) are reminded 14 days before, so that they can extend it.
//
// Every change is audited as done by the system, with the rule that caused it,
// in the same transaction as the change and the e-mails it sends. The sweeps
// work in chunks of set-based, conditional statements over partial indexes of
// the rows that are due, so their cost follows the number due, not the number
// of people, and a sweep that runs twice, or in two processes at once, changes
// and sends nothing twice.
//
// Callers: the job runner (Job, hourly), demo mode after the clock moves, and
// tests (Sweep).
package lifecycle
