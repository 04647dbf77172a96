// Package member is the authoriser's portal: invitations to join a site,
// their acceptance, the members of a site and their history, the member
// actions that become access requests (e-mail change, deactivation,
// removal, reactivation), and bulk intake of new staff from a CSV file.
//
// Who may do what: a site's authorisers manage its invitations and members;
// programme administrators may read them. A request opens the site once
// (Open, the check of who may see it, returns a Place with the site and its
// organisation) and passes the Place to every call it makes; the calls that
// change anything check on it that the caller is one of its authorisers. An invitation is accepted by
// whoever holds its link (it went to the invited address). Every change is
// audited in the transaction that makes it, and every e-mail is queued in
// that transaction too. The automatic rules (invitation expiry, inactivity,
// finishing dates) are in package lifecycle.
package member
