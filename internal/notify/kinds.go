package notify

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The kinds of message CareGate sends. Each names a template pair in
// templates/ (KIND.txt for the subject and plain text, KIND.html for the
// HTML body).
const (
	// To the person who raised an access request, at every step of it.
	// Data: Name (recipient), Ref, Title, Type, State, Link; Question for
	// needs information; Reason for rejected and cancelled; Resolution for
	// completed.
	KindRequestSubmitted        = "request_submitted"
	KindRequestValidated        = "request_validated"
	KindRequestNeedsInformation = "request_needs_information"
	KindRequestCompleted        = "request_completed"
	KindRequestRejected         = "request_rejected"
	KindRequestCancelled        = "request_cancelled"
	// To a new user: their user name. Data: Name, Username, Link. The
	// password follows in a separate message.
	KindCredentialsUsername = "credentials_username"
	// A one-time password, to the user or to the nominated individual of
	// their organisation. Data: Name (recipient), Password, Link; when sent
	// to a nominated individual also ForName (the user's name) and,
	// optionally, Username. Sent to the user it never shows the user name,
	// so that one intercepted message is not enough to sign in. Always
	// sensitive.
	KindCredentialsPassword = "credentials_password"
	// To a user whose access to the record changed. Data: Name, Change,
	// Reason, Link.
	KindAccessChanged = "access_changed"
	// To a member whose completion of a training module lapses soon: sent
	// 30 and 7 days before. Data: Name, Module (its title), LapsesOn (the
	// date, e.g. "2 November 2027"), Days ("30" or "7"), Link.
	KindTrainingReminder = "training_reminder"
	// An invitation to join a site, to the invited person. Data: Name,
	// InvitedBy, Site, Organisation, Link (single-use; a secret), Expires
	// (the date, e.g. "2 January 2027").
	KindInvitation = "invitation"

	// The automatic rules of the access lifecycle (package lifecycle).
	// To a member whose record account will be deactivated for inactivity.
	// Data: Name, Service, On (the date), Days (the inactivity period), Link.
	KindInactivityWarning = "inactivity_warning"
	// To a member whose record account a rule has deactivated. Data: Name,
	// Service, Why (the rule, as a clause), Next (what they can do), Link.
	KindAccessEnded = "access_ended"
	// To the authorisers (or the service desk) of members a rule has
	// deactivated, one digest per recipient. Data: Name, Service, Why,
	// People (one member a line), Count, Next, Link.
	KindMembersAccessEnded = "members_access_ended"
	// To the authorisers (or the service desk) of members whose finishing
	// date comes soon, one digest per recipient, so that they can extend it.
	// Data: Name, Service, Days, People (one member a line), Count, Link.
	KindFinishingReminder = "finishing_reminder"
	// To a supplying organisation's data-quality contact: a member reported
	// that an item it sent to the record looks wrong. Data: Name (the
	// contact), Ref (the report), Title (the item), Reason (what looks
	// wrong), Link; optionally Patient (NHS number) and Reporter.
	KindRecordDataProblem = "record_data_problem"
)

// kind describes what a message of one kind needs.
type kind struct {
	required  []string // Data keys that must be non-empty
	sensitive bool     // always carries a secret, whatever the caller says
}

// kinds lists every kind Enqueue accepts. Keys beyond the required ones
// are optional; a template shows them only when they are given.
var kinds = map[string]kind{
	KindRequestSubmitted:        {required: []string{"Name", "Ref", "Title"}},
	KindRequestValidated:        {required: []string{"Name", "Ref", "Title"}},
	KindRequestNeedsInformation: {required: []string{"Name", "Ref", "Title", "Question"}},
	KindRequestCompleted:        {required: []string{"Name", "Ref", "Title"}},
	KindRequestRejected:         {required: []string{"Name", "Ref", "Title", "Reason"}},
	KindRequestCancelled:        {required: []string{"Name", "Ref", "Title"}},
	KindCredentialsUsername:     {required: []string{"Name", "Username"}},
	KindCredentialsPassword:     {required: []string{"Name", "Password"}, sensitive: true},
	KindAccessChanged:           {required: []string{"Name", "Change"}},
	KindTrainingReminder:        {required: []string{"Name", "Module", "LapsesOn"}},
	KindInvitation:              {required: []string{"Name", "InvitedBy", "Site", "Organisation", "Link", "Expires"}, sensitive: true},

	// The automatic rules of the access lifecycle.
	KindInactivityWarning:  {required: []string{"Name", "Service", "On"}},
	KindAccessEnded:        {required: []string{"Name", "Service", "Why"}},
	KindMembersAccessEnded: {required: []string{"Name", "Service", "Why", "People", "Count"}},
	KindFinishingReminder:  {required: []string{"Name", "Service", "People", "Count"}},
	KindRecordDataProblem:  {required: []string{"Name", "Ref", "Title", "Reason"}},
}

// Kinds returns every message kind, sorted (for filters and tests).
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// check refuses an unknown kind or missing data, naming what is wrong
// (never a value: data may hold a password).
func check(m Message) (kind, error) {
	k, ok := kinds[m.Kind]
	if !ok {
		return kind{}, fmt.Errorf("unknown message kind %q (known: %s)", m.Kind, strings.Join(Kinds(), ", "))
	}
	var missing []string
	for _, key := range k.required {
		if strings.TrimSpace(m.Data[key]) == "" {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return kind{}, fmt.Errorf("message %s is missing data: %s", m.Kind, strings.Join(missing, ", "))
	}
	if strings.TrimSpace(m.To) == "" || strings.ContainsAny(m.To, "\r\n") || !strings.Contains(m.To, "@") {
		return kind{}, fmt.Errorf("message %s has no valid recipient address", m.Kind)
	}
	return k, nil
}

// Statuses of a message in the outbox.
const (
	StatusPending = "pending" // waiting to be sent (or kept: no SMTP server configured)
	StatusSent    = "sent"    // accepted by the SMTP server
	StatusFailed  = "failed"  // given up after the retry limit
)

// Statuses lists the message statuses (for filters).
func Statuses() []string { return slices.Clone([]string{StatusPending, StatusSent, StatusFailed}) }
