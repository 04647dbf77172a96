package training

import (
	"html/template"
	"time"
)

// Module statuses. A module starts as a draft, is published (its current
// version is what members take) and may be retired (no longer assigned;
// completions are kept).
const (
	StatusDraft     = "draft"
	StatusPublished = "published"
	StatusRetired   = "retired"
)

// Progress statuses of an assigned module, for a member.
const (
	NotStarted = "not_started"
	InProgress = "in_progress"
	Completed  = "completed" // completed, and not lapsed
	Lapsed     = "lapsed"    // completed once, but the validity period has passed
)

// Limits on content, so that one module cannot fill the database or a page.
const (
	MaxPages          = 50
	MaxQuestions      = 30
	MaxOptions        = 8
	MaxBodyChars      = 50000
	MaxValidityMonths = 120
)

// Settings are a module's rules, kept outside its versioned content: they
// change without a new version.
type Settings struct {
	// Mandatory modules count for access to the record; others are shown
	// as assigned but never hold access back.
	Mandatory bool `json:"mandatory"`
	// ValidityMonths is how long a completion stays valid; 0 means it never
	// lapses.
	ValidityMonths int `json:"validity_months"`
	// BlocksExistingAccess makes a module that was assigned after a member
	// already had a record account count for their access too. Off by
	// default: existing members see such a module as outstanding, but keep
	// their access.
	BlocksExistingAccess bool `json:"blocks_existing_access"`
	// Position orders modules on the member's page (then by title).
	Position int `json:"position"`
}

// SettingsInput changes a module's settings; nil fields stay as they are
// (and take the defaults on creation: mandatory, never lapses, does not
// block existing access, position 0).
type SettingsInput struct {
	Mandatory            *bool `json:"mandatory"`
	ValidityMonths       *int  `json:"validity_months"`
	BlocksExistingAccess *bool `json:"blocks_existing_access"`
	Position             *int  `json:"position"`
}

// Content is the versioned content of a module, as an administrator edits it.
type Content struct {
	Title     string          `json:"title"`
	Summary   string          `json:"summary"`
	Pages     []PageInput     `json:"pages"`
	Questions []QuestionInput `json:"questions"`
	// PassMark is the knowledge check's pass mark in percent (1–100); it
	// must be 0 when there are no questions.
	PassMark int `json:"pass_mark"`
}

// PageInput is one page of content, in Markdown.
type PageInput struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// QuestionInput is one multiple-choice question of a knowledge check.
type QuestionInput struct {
	Prompt  string   `json:"prompt"`
	Options []string `json:"options"`
	Correct int      `json:"correct"` // index into Options
}

// Module is a training module as programme administrators see it.
type Module struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Title and Summary are those of the current version, or of the draft
	// before the first publication.
	Title          string `json:"title"`
	Summary        string `json:"summary"`
	CurrentVersion int    `json:"current_version"` // 0 before the first publication
	DraftVersion   int    `json:"draft_version"`   // 0 when no draft is being edited
	Settings
	FirstPublishedAt *time.Time `json:"first_published_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// VersionInfo describes one version in a module's history.
type VersionInfo struct {
	Version       int        `json:"version"`
	Title         string     `json:"title"`
	Pages         int        `json:"pages"`
	Questions     int        `json:"questions"`
	PassMark      int        `json:"pass_mark"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	PublishedBy   string     `json:"published_by"`
	PublishedAt   *time.Time `json:"published_at"` // nil for a draft
	Current       bool       `json:"current"`
	Draft         bool       `json:"draft"`
	Completions   int        `json:"completions"` // people whose current completion is of this version
	OpenAttempts  int        `json:"open_attempts"`
	TotalAttempts int        `json:"total_attempts"`
}

// Page is one rendered page.
type Page struct {
	Number   int           `json:"number"`
	Title    string        `json:"title"`
	Markdown string        `json:"markdown,omitempty"` // administrators only
	HTML     template.HTML `json:"html"`
}

// Question is a knowledge-check question with its answer, for
// administrators.
type Question struct {
	ID      string   `json:"id"`
	Prompt  string   `json:"prompt"`
	Options []string `json:"options"`
	Correct int      `json:"correct"`
}

// Version is one version of a module's content with its pages rendered, as
// an administrator previews it.
type Version struct {
	ModuleID    string     `json:"module_id"`
	Version     int        `json:"version"`
	Draft       bool       `json:"draft"`
	Title       string     `json:"title"`
	Summary     string     `json:"summary"`
	PassMark    int        `json:"pass_mark"`
	Pages       []Page     `json:"pages"`
	Questions   []Question `json:"questions"`
	PublishedAt *time.Time `json:"published_at"`
	// Warnings say what members will not see (raw HTML, unsafe links) and
	// what stops publication (no pages).
	Warnings []string `json:"warnings"`
}

// Rule assigns a module to members of an organisation (or any), with a job
// category (or any) and a record role (or any).
type Rule struct {
	ID               string    `json:"id"`
	ModuleID         string    `json:"module_id"`
	ModuleTitle      string    `json:"module_title"`
	OrganisationID   string    `json:"organisation_id"` // "" for any
	OrganisationName string    `json:"organisation_name"`
	JobCategory      string    `json:"job_category"` // "" for any
	RecordRole       string    `json:"record_role"`  // "" for any
	Description      string    `json:"description"`  // "assigned to …"
	CreatedBy        string    `json:"created_by"`
	CreatedAt        time.Time `json:"created_at"`
}

// RuleInput is a new rule.
type RuleInput struct {
	ModuleID       string `json:"module_id"`
	OrganisationID string `json:"organisation_id"`
	JobCategory    string `json:"job_category"`
	RecordRole     string `json:"record_role"`
}

// Assignment is one module assigned to a member, with their progress in it.
type Assignment struct {
	ModuleID  string `json:"module_id"`
	Title     string `json:"title"`
	Summary   string `json:"summary"`
	Version   int    `json:"version"` // the version they are taking, or would take next
	Mandatory bool   `json:"mandatory"`
	// Reasons say why it is assigned: "assigned to everyone", "assigned to
	// Nursing and midwifery at Riverside Community Health", …
	Reasons        []string `json:"reasons"`
	Status         string   `json:"status"`
	Percent        int      `json:"percent"`
	Pages          int      `json:"pages"`
	PagesDone      int      `json:"pages_done"`
	HasCheck       bool     `json:"has_check"`
	CheckPassed    bool     `json:"check_passed"`
	CheckTries     int      `json:"check_tries"`
	LastCheckScore int      `json:"last_check_score"` // -1 before the first try
	// NextPage is where to carry on (1…Pages); 0 when the knowledge check
	// is next or nothing is left.
	NextPage         int        `json:"next_page"`
	CheckNext        bool       `json:"check_next"`
	CompletedAt      *time.Time `json:"completed_at"`
	CompletedVersion int        `json:"completed_version"`
	ExpiresAt        *time.Time `json:"expires_at"` // when the completion lapses; nil if never
	// Retaking is set when a completed module is being taken again: the
	// completion stands, and RetakePercent is the new attempt's progress.
	Retaking      bool `json:"retaking"`
	RetakePercent int  `json:"retake_percent"`
	// CountsForAccess is set for a mandatory module that record access
	// depends on. NewSinceAccess marks a module assigned after the member's
	// record account was created that does not block their access.
	CountsForAccess bool `json:"counts_for_access"`
	NewSinceAccess  bool `json:"new_since_access"`
}

// Overview is a member's training: their assigned modules and where they
// stand.
type Overview struct {
	UserID      string       `json:"user_id"`
	Name        string       `json:"name"`
	Email       string       `json:"email"`
	Modules     []Assignment `json:"modules"`
	Assigned    int          `json:"assigned"`
	Completed   int          `json:"completed"`
	Outstanding int          `json:"outstanding"`
	AllComplete bool         `json:"all_complete"`
	// AccessAllowed says whether the training allows record access: every
	// module that counts for access is complete and not lapsed.
	AccessAllowed bool   `json:"access_allowed"`
	AccessReason  string `json:"access_reason,omitempty"`
	// StatusLine is the sentence the member's home page shows.
	StatusLine string `json:"status_line"`
	// RequestRef and RequestState describe the access request training
	// raised for them, if any.
	RequestRef   string `json:"request_ref,omitempty"`
	RequestState string `json:"request_state,omitempty"`
}

// PageRef is a page's number and title in a module's contents.
type PageRef struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Done   bool   `json:"done"`
}

// ModuleView is an assigned module as its member sees it: their progress
// and the contents of the version they are taking.
type ModuleView struct {
	Assignment
	Contents []PageRef `json:"contents"`
	PassMark int       `json:"pass_mark"`
}

// PageView is one page of a module for its member.
type PageView struct {
	ModuleID    string        `json:"module_id"`
	ModuleTitle string        `json:"module_title"`
	Version     int           `json:"version"`
	Number      int           `json:"number"`
	Of          int           `json:"of"`
	Title       string        `json:"title"`
	HTML        template.HTML `json:"html"`
	Done        bool          `json:"done"`
	// Reachable is false for a page beyond the next one to finish: it can
	// be read, but not marked finished yet.
	Reachable bool `json:"reachable"`
	HasCheck  bool `json:"has_check"`
}

// CheckQuestion is a knowledge-check question without its answer.
type CheckQuestion struct {
	ID      string   `json:"id"`
	Prompt  string   `json:"prompt"`
	Options []string `json:"options"`
}

// CheckView is a module's knowledge check for its member.
type CheckView struct {
	ModuleID    string          `json:"module_id"`
	ModuleTitle string          `json:"module_title"`
	Version     int             `json:"version"`
	PassMark    int             `json:"pass_mark"`
	Questions   []CheckQuestion `json:"questions"`
	Tries       int             `json:"tries"`
	LastScore   int             `json:"last_score"` // -1 before the first try
	// Ready is false until every page of the module is finished.
	Ready bool `json:"ready"`
}

// Progress is a member's progress in one module after an action.
type Progress struct {
	ModuleID    string `json:"module_id"`
	Version     int    `json:"version"`
	Pages       int    `json:"pages"`
	PagesDone   int    `json:"pages_done"`
	HasCheck    bool   `json:"has_check"`
	CheckPassed bool   `json:"check_passed"`
	Percent     int    `json:"percent"`
	NextPage    int    `json:"next_page"`
	CheckNext   bool   `json:"check_next"`
	// Completed is set when the module is complete (this action finished
	// it, or it was complete already and no retake is open).
	Completed bool `json:"completed"`
	// Gate is set when this action completed the member's last
	// outstanding module.
	Gate *Gate `json:"gate,omitempty"`
}

// Gate is what completing the last outstanding module did about record
// access.
type Gate struct {
	Raised     bool   `json:"raised"`
	RequestID  string `json:"request_id,omitempty"`
	RequestRef string `json:"request_ref,omitempty"`
	// Message explains, for the member, what happens next or why no
	// request was raised.
	Message string `json:"message"`
}

// CheckResult is the outcome of one try at a knowledge check.
type CheckResult struct {
	Score    int  `json:"score"` // percent
	PassMark int  `json:"pass_mark"`
	Passed   bool `json:"passed"`
	// Correct says, for each question id, whether it was answered
	// correctly (the right answers are not revealed).
	Correct  map[string]bool `json:"correct"`
	Progress *Progress       `json:"progress"`
	Tries    int             `json:"tries"` // tries so far, this one included
}

// MemberProgress is one member's training, as their site's authoriser sees
// it: "completed / assigned".
type MemberProgress struct {
	UserID        string   `json:"user_id"`
	Name          string   `json:"name"`
	Email         string   `json:"email"`
	JobTitle      string   `json:"job_title"`
	JobCategory   string   `json:"job_category"`
	Completed     int      `json:"completed"`
	Assigned      int      `json:"assigned"`
	Outstanding   []string `json:"outstanding"` // titles
	AccessAllowed bool     `json:"access_allowed"`
}

// CompletionRow is one organisation and module of the completion report.
// A person who belongs to several organisations counts in each.
type CompletionRow struct {
	OrganisationID string `json:"organisation_id"`
	Organisation   string `json:"organisation"`
	ModuleID       string `json:"module_id"`
	Module         string `json:"module"`
	Assigned       int    `json:"assigned"`
	Completed      int    `json:"completed"`
	InProgress     int    `json:"in_progress"`
	NotStarted     int    `json:"not_started"`
	Lapsed         int    `json:"lapsed"`
	Percent        int    `json:"percent"` // completed / assigned
}
