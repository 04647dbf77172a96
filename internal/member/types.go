package member

import (
	"time"
)

// Invitation statuses.
const (
	InvitationPending   = "pending"
	InvitationAccepted  = "accepted"
	InvitationCancelled = "cancelled"
	InvitationExpired   = "expired"
)

// Membership statuses.
const (
	MembershipActive      = "active"
	MembershipDeactivated = "deactivated"
	MembershipDeleted     = "deleted" // removed permanently (a leaver)
)

// JobCategories is the fixed list of NHS staff groups (the Electronic Staff
// Record's groups) plus social care, offered on the invitation form.
var JobCategories = []string{
	"Medical and dental",
	"Nursing and midwifery",
	"Allied health professionals",
	"Additional clinical services",
	"Additional professional, scientific and technical",
	"Healthcare scientists",
	"Administrative and clerical",
	"Estates and ancillary",
	"Students",
	"Social care",
}

// DeactivationReasons are the reasons an authoriser may give for
// deactivating a member (a leaver is removed instead).
var DeactivationReasons = []string{"maternity_leave", "long_term_sickness", "other"}

// Invitation is an invitation to join a site.
type Invitation struct {
	ID             string     `json:"id"`
	SiteID         string     `json:"site_id"`
	SiteName       string     `json:"site_name"`
	OrganisationID string     `json:"organisation_id"`
	GivenName      string     `json:"given_name"`
	FamilyName     string     `json:"family_name"`
	Email          string     `json:"email"`
	Phone          string     `json:"phone"`
	JobTitle       string     `json:"job_title"`
	JobCategory    string     `json:"job_category"`
	RecordRole     string     `json:"record_role"`
	FinishingDate  string     `json:"finishing_date"`
	IGConfirmed    bool       `json:"ig_confirmed"`
	Status         string     `json:"status"`
	CreatedBy      string     `json:"created_by"`
	CreatedByName  string     `json:"created_by_name"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	SentAt         time.Time  `json:"sent_at"`
	SendCount      int        `json:"send_count"`
	ClosedAt       *time.Time `json:"closed_at"`
	ClosedBy       string     `json:"closed_by"` // user id; "" for the system
	UserID         string     `json:"user_id"`   // who accepted it
	IntakeID       string     `json:"intake_id"`
}

// Name is the invited person's full name.
func (i *Invitation) Name() string { return i.GivenName + " " + i.FamilyName }

// InvitationInput is what the invitation form carries.
type InvitationInput struct {
	GivenName     string `json:"given_name"`
	FamilyName    string `json:"family_name"`
	Email         string `json:"email"`
	Phone         string `json:"phone"`
	JobTitle      string `json:"job_title"`
	JobCategory   string `json:"job_category"`
	RecordRole    string `json:"record_role"`
	FinishingDate string `json:"finishing_date"`
	// IGConfirmed is the authoriser's confirmation that the person is
	// compliant with their organisation's information governance training.
	IGConfirmed bool `json:"ig_confirmed"`
}

// Welcome is what the public invitation page shows to whoever holds the
// link: who invited whom to which site, and whether they must choose a
// password (a new person) or already have an account.
type Welcome struct {
	Invitation   *Invitation `json:"invitation"`
	Organisation string      `json:"organisation"`
	InvitedBy    string      `json:"invited_by"`
	HasAccount   bool        `json:"has_account"` // signs in with their existing password
}

// Member is a membership of a site with the person's details.
type Member struct {
	ID            string     `json:"id"` // the membership's id
	SiteID        string     `json:"site_id"`
	UserID        string     `json:"user_id"`
	GivenName     string     `json:"given_name"`
	FamilyName    string     `json:"family_name"`
	Email         string     `json:"email"`
	Phone         string     `json:"phone"`
	JobTitle      string     `json:"job_title"`
	JobCategory   string     `json:"job_category"`
	RecordRole    string     `json:"record_role"`
	FinishingDate string     `json:"finishing_date"`
	LeavingDate   string     `json:"leaving_date"`
	Status        string     `json:"status"`
	StatusReason  string     `json:"status_reason"`
	JoinedAt      time.Time  `json:"joined_at"`
	EndedAt       *time.Time `json:"ended_at"`
	Authoriser    bool       `json:"site_authoriser"`
	AccountStatus string     `json:"record_account_status"` // "" when they have none
	accountOrg    string     // the organisation their record account is held for
	Completed     int        `json:"training_completed"`
	Assigned      int        `json:"training_assigned"`
}

// Name is the member's full name.
func (m *Member) Name() string { return m.GivenName + " " + m.FamilyName }

// MemberEdit is what the member edit form carries. Empty fields are left
// as they are, except FinishingDate, which ClearFinishing empties.
type MemberEdit struct {
	GivenName      string `json:"given_name"`
	FamilyName     string `json:"family_name"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
	JobTitle       string `json:"job_title"`
	JobCategory    string `json:"job_category"`
	FinishingDate  string `json:"finishing_date"`
	ClearFinishing bool   `json:"clear_finishing_date"`
}

// Outcome says what a member action did: the request raised for the back
// office, if any, and a sentence for the authoriser.
type Outcome struct {
	Member     *Member `json:"member"`
	RequestID  string  `json:"request_id,omitempty"`
	RequestRef string  `json:"request_ref,omitempty"`
	Message    string  `json:"message"`
}
