package access

import (
	"time"
)

// Record roles: what a member sees in the record.
const (
	RoleCareProfessional = "care_professional" // the whole record
	RoleAdministrator    = "administrator"     // demographics and appointments only
)

// Roles lists the record roles in display order.
var Roles = []string{RoleCareProfessional, RoleAdministrator}

// Record account statuses.
const (
	AccountPending     = "pending"
	AccountActive      = "active"
	AccountDeactivated = "deactivated"
	AccountDeleted     = "deleted"
)

// Reasons for deactivation and deletion.
const (
	ReasonLeaver           = "leaver"
	ReasonMaternityLeave   = "maternity_leave"
	ReasonLongTermSickness = "long_term_sickness"
	ReasonInactivity       = "inactivity"
	ReasonEndOfContract    = "end_of_contract"
	ReasonOther            = "other"
)

// Reasons lists the reasons an account may be deactivated or deleted.
var Reasons = []string{ReasonLeaver, ReasonMaternityLeave, ReasonLongTermSickness, ReasonInactivity, ReasonEndOfContract, ReasonOther}

// Request types.
const (
	TypeNewUser      = "new_user"
	TypeAmendment    = "amendment"
	TypeReactivation = "reactivation"
	TypeDeactivation = "deactivation"
	TypeDeletion     = "deletion"
)

// Types lists the request types in display order.
var Types = []string{TypeNewUser, TypeAmendment, TypeReactivation, TypeDeactivation, TypeDeletion}

// Request states.
const (
	StateSubmitted        = "submitted"         // waiting for the organisation's service desk
	StateValidated        = "validated"         // in the back office's queue; the SLA runs
	StateInProgress       = "in_progress"       // a back-office member is working on it
	StateNeedsInformation = "needs_information" // returned to the submitter with a question
	StateCompleted        = "completed"
	StateRejected         = "rejected"
	StateCancelled        = "cancelled"
)

// States lists the states in the order a request moves through them.
var States = []string{StateSubmitted, StateValidated, StateInProgress, StateNeedsInformation, StateCompleted, StateRejected, StateCancelled}

// Closed reports whether a state is final.
func Closed(state string) bool {
	return state == StateCompleted || state == StateRejected || state == StateCancelled
}

// RecordAccount is a person's entitlement to open the shared care record.
type RecordAccount struct {
	ID             string     `json:"id"`
	UserID         string     `json:"user_id"`
	OrganisationID string     `json:"organisation_id"`
	Username       string     `json:"username"`
	Role           string     `json:"role"`
	Status         string     `json:"status"`
	StatusReason   string     `json:"status_reason"`
	FinishingDate  string     `json:"finishing_date"`
	ActivatedAt    *time.Time `json:"activated_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Request is an access request.
type Request struct {
	ID               string     `json:"id"`
	Ref              string     `json:"ref"`
	Type             string     `json:"type"`
	State            string     `json:"state"`
	Title            string     `json:"title"`
	OrganisationID   string     `json:"organisation_id"`
	SiteID           string     `json:"site_id"`
	SubjectUserID    string     `json:"subject_user_id"`
	Email            string     `json:"email"`
	GivenName        string     `json:"given_name"`
	FamilyName       string     `json:"family_name"`
	JobTitle         string     `json:"job_title"`
	Phone            string     `json:"phone"`
	Role             string     `json:"role"`
	NewEmail         string     `json:"new_email"`
	FinishingDate    string     `json:"finishing_date"`
	Reason           string     `json:"reason"`
	LeavingDate      string     `json:"leaving_date"`
	Notes            string     `json:"notes"`
	AttestDirectCare bool       `json:"attest_direct_care"`
	AttestToldMisuse bool       `json:"attest_told_misuse"`
	AttestIGTraining bool       `json:"attest_ig_training"`
	SubmittedBy      string     `json:"submitted_by"`
	SubmittedAt      time.Time  `json:"submitted_at"`
	ValidatedBy      string     `json:"validated_by"`
	ValidatedAt      *time.Time `json:"validated_at"`
	DueAt            *time.Time `json:"due_at"`
	AssignedTo       string     `json:"assigned_to"`
	Question         string     `json:"question"`
	Answer           string     `json:"answer"`
	Resolution       string     `json:"resolution"`
	ClosedAt         *time.Time `json:"closed_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Overdue          bool       `json:"overdue"`

	// Names, for pages that list requests; filled by List only. Whether
	// the reader may see the organisation's and site's names is theirs to
	// decide (see org.Service.MayRead).
	OrganisationName string `json:"-"`
	SiteName         string `json:"-"`
	AssigneeName     string `json:"-"` // "Name (e-mail)"

	resumes string // the state an answered question returns to
}

// Name is the full name of the person the request is for.
func (r *Request) Name() string { return r.GivenName + " " + r.FamilyName }

// Event is one step in a request's history.
type Event struct {
	At        time.Time `json:"at"`
	ActorID   string    `json:"actor_id"`
	Actor     string    `json:"actor"`
	FromState string    `json:"from_state"`
	ToState   string    `json:"to_state"`
	Note      string    `json:"note"`
}

// Input is what a request form carries.
type Input struct {
	Type             string `json:"type"`
	OrganisationID   string `json:"organisation_id"`
	SiteID           string `json:"site_id"`
	Email            string `json:"email"`
	GivenName        string `json:"given_name"`
	FamilyName       string `json:"family_name"`
	JobTitle         string `json:"job_title"`
	Phone            string `json:"phone"`
	Role             string `json:"role"`
	NewEmail         string `json:"new_email"`
	FinishingDate    string `json:"finishing_date"`
	Reason           string `json:"reason"`
	LeavingDate      string `json:"leaving_date"`
	Notes            string `json:"notes"`
	AttestDirectCare bool   `json:"attest_direct_care"`
	AttestToldMisuse bool   `json:"attest_told_misuse"`
	AttestIGTraining bool   `json:"attest_ig_training"`
	// SourceKey makes raising idempotent: a second request with the same
	// key returns the first (automatic raising after training, bulk files).
	SourceKey string `json:"source_key,omitempty"`
}

// Filter selects requests for a queue or list.
type Filter struct {
	Type           string
	OrganisationID string
	State          string // a state, or "open" for every state not closed
	AssignedTo     string // a user id, or "none"
	Overdue        bool
	SubmittedBy    string
	Subject        string // subject user id
	Query          string // e-mail, name or reference contains
	Before         string // cursor from the previous page ("submitted-micros.id")
	Limit          int
}
