// Package member is the authoriser's portal: invitations to join a site,
// their acceptance, the members of a site and their history, the member
// actions that become access requests (e-mail change, deactivation,
// removal, reactivation), and bulk intake of new staff from a CSV file.
//
// Who may do what: a site's authorisers manage its invitations and members;
// programme administrators may read them. An invitation is accepted by
// whoever holds its link (it went to the invited address). Every change is
// audited in the transaction that makes it, and every e-mail is queued in
// that transaction too. The automatic rules (invitation expiry, inactivity,
// finishing dates) are in package lifecycle.
package member
