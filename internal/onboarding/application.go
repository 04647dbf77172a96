package onboarding

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
)

// Application states.
const (
	StateSubmitted = "submitted" // waiting for the IG steering group
	StateApproved  = "approved"  // approved; waiting to go live
	StateRejected  = "rejected"  // refused by the IG steering group (final)
	StateLive      = "live"      // the organisation takes part (final)
)

// DSPT statuses, as the Data Security and Protection Toolkit publishes them.
const (
	DSPTStandardsExceeded    = "standards_exceeded"
	DSPTStandardsMet         = "standards_met"
	DSPTApproachingStandards = "approaching_standards"
	DSPTStandardsNotMet      = "standards_not_met"
	DSPTNotPublished         = "not_published"
)

// Choice is a code with the words shown for it.
type Choice struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// DSPTStatuses lists the DSPT statuses in the order a form offers them.
var DSPTStatuses = []Choice{
	{DSPTStandardsExceeded, "Standards exceeded"},
	{DSPTStandardsMet, "Standards met"},
	{DSPTApproachingStandards, "Approaching standards"},
	{DSPTStandardsNotMet, "Standards not met"},
	{DSPTNotPublished, "Not published"},
}

// OrganisationTypes lists the kinds of organisation that may apply.
var OrganisationTypes = []Choice{
	{"acute_trust", "Acute hospital trust"},
	{"mental_health_trust", "Mental health trust"},
	{"community_provider", "Community health provider"},
	{"ambulance_trust", "Ambulance trust"},
	{"gp_practice", "GP practice"},
	{"local_authority", "Local authority (social care)"},
	{"hospice", "Hospice"},
	{"care_home", "Care home"},
	{"community_pharmacy", "Community pharmacy"},
	{"other", "Other provider of direct care"},
}

func labelOf(cs []Choice, code string) string {
	for _, c := range cs {
		if c.Code == code {
			return c.Label
		}
	}
	return code
}

func isChoice(cs []Choice, code string) bool {
	for _, c := range cs {
		if c.Code == code {
			return true
		}
	}
	return false
}

// Application is a new organisation's application to take part.
type Application struct {
	ID                      string   `json:"id"`
	State                   string   `json:"state"`
	Name                    string   `json:"name"`
	ODSCode                 string   `json:"ods_code"`
	OrganisationType        string   `json:"organisation_type"`
	SizeBand                string   `json:"size_band"`
	ContactName             string   `json:"contact_name"`
	ContactEmail            string   `json:"contact_email"`
	ProvidesDirectCare      bool     `json:"provides_direct_care"`
	DSPTStatus              string   `json:"dspt_status"`
	HSCNConnected           bool     `json:"hscn_connected"`
	IndividualEmailAccounts bool     `json:"individual_email_accounts"`
	EmailDomains            []string `json:"email_domains"`
	ISALevel                string   `json:"isa_level"`
	Routing                 string   `json:"routing"`
	Notes                   string   `json:"notes"`

	// UnmetPrerequisites says, one sentence each, which prerequisites the
	// organisation does not meet; empty when it meets them all.
	UnmetPrerequisites []string `json:"unmet_prerequisites"`
	// The costs of the organisation's size band, from the current table.
	ImplementationCost Pence `json:"implementation_cost_pence"`
	AnnualContribution Pence `json:"annual_contribution_pence"`

	SubmittedBy    string     `json:"submitted_by"` // e-mail of the administrator who entered it
	SubmittedAt    time.Time  `json:"submitted_at"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	DecidedAt      *time.Time `json:"decided_at"`
	MeetingDate    string     `json:"meeting_date,omitempty"` // YYYY-MM-DD
	Minutes        string     `json:"minutes,omitempty"`
	LiveBy         string     `json:"live_by,omitempty"`
	LiveAt         *time.Time `json:"live_at"`
	OrganisationID string     `json:"organisation_id,omitempty"` // once live
	UpdatedAt      time.Time  `json:"updated_at"`
}

// MeetsPrerequisites reports whether every prerequisite is met.
func (a *Application) MeetsPrerequisites() bool { return len(a.UnmetPrerequisites) == 0 }

// OrganisationTypeLabel is the organisation type in words.
func (a *Application) OrganisationTypeLabel() string {
	return labelOf(OrganisationTypes, a.OrganisationType)
}

// DSPTLabel is the DSPT status in words.
func (a *Application) DSPTLabel() string { return labelOf(DSPTStatuses, a.DSPTStatus) }

// DSPTMet reports whether the DSPT status satisfies the prerequisite.
func (a *Application) DSPTMet() bool {
	return a.DSPTStatus == DSPTStandardsMet || a.DSPTStatus == DSPTStandardsExceeded
}

// EmailDomainsAllowed reports whether every e-mail domain given is allowed.
func (a *Application) EmailDomainsAllowed() bool {
	if len(a.EmailDomains) == 0 {
		return false
	}
	for _, d := range a.EmailDomains {
		if !AllowedEmailDomain(d) {
			return false
		}
	}
	return true
}

// AllowedEmailDomain reports whether staff e-mail accounts on domain d meet
// the prerequisite: d is one of the region's allowed domains (org.DefaultDomains:
// nhs.net, gov.uk) or a subdomain of one (a council's westshire.gov.uk).
func AllowedEmailDomain(d string) bool {
	for _, a := range org.DefaultDomains {
		if d == a || strings.HasSuffix(d, "."+a) {
			return true
		}
	}
	return false
}

// prerequisites fills UnmetPrerequisites from the answers.
func (a *Application) prerequisites() {
	u := []string{}
	if !a.ProvidesDirectCare {
		u = append(u, "The organisation must provide direct care to patients or service users")
	}
	if !a.DSPTMet() {
		u = append(u, fmt.Sprintf("The organisation's Data Security and Protection Toolkit status must be Standards met or Standards exceeded (it is %s)", a.DSPTLabel()))
	}
	if !a.HSCNConnected {
		u = append(u, "The organisation must have an active HSCN connection across the organisation")
	}
	if !a.IndividualEmailAccounts {
		u = append(u, "Every member of staff who will use the record must have an individual e-mail account")
	}
	var bad []string
	for _, d := range a.EmailDomains {
		if !AllowedEmailDomain(d) {
			bad = append(bad, d)
		}
	}
	if len(bad) > 0 {
		u = append(u, fmt.Sprintf("Staff e-mail accounts must be on %s (or their subdomains); %s is not", strings.Join(org.DefaultDomains, " or "), strings.Join(bad, ", ")))
	}
	a.UnmetPrerequisites = u
}

// ApplicationInput is what an administrator enters for an application, on
// submission and when correcting it.
type ApplicationInput struct {
	Name                    string   `json:"name"`
	ODSCode                 string   `json:"ods_code"`
	OrganisationType        string   `json:"organisation_type"`
	SizeBand                string   `json:"size_band"`
	ContactName             string   `json:"contact_name"`
	ContactEmail            string   `json:"contact_email"`
	ProvidesDirectCare      bool     `json:"provides_direct_care"`
	DSPTStatus              string   `json:"dspt_status"`
	HSCNConnected           bool     `json:"hscn_connected"`
	IndividualEmailAccounts bool     `json:"individual_email_accounts"`
	EmailDomains            []string `json:"email_domains"`
	ISALevel                string   `json:"isa_level"` // read_only (default) or write
	Routing                 string   `json:"routing"`   // site_authoriser (default) or service_desk
	Notes                   string   `json:"notes"`
}

// apply validates in and copies it onto a. A missing prerequisite is not a
// validation error: the application is kept, and flagged.
func (in *ApplicationInput) apply(a *Application) error {
	var v errs.Validation
	a.Name = strings.TrimSpace(in.Name)
	a.ODSCode = strings.ToUpper(strings.TrimSpace(in.ODSCode))
	a.OrganisationType = strings.TrimSpace(in.OrganisationType)
	a.SizeBand = strings.ToUpper(strings.TrimSpace(in.SizeBand))
	a.ContactName = strings.TrimSpace(in.ContactName)
	a.ContactEmail = strings.ToLower(strings.TrimSpace(in.ContactEmail))
	a.ProvidesDirectCare, a.HSCNConnected, a.IndividualEmailAccounts = in.ProvidesDirectCare, in.HSCNConnected, in.IndividualEmailAccounts
	a.DSPTStatus = strings.TrimSpace(in.DSPTStatus)
	a.ISALevel, a.Routing = strings.TrimSpace(in.ISALevel), strings.TrimSpace(in.Routing)
	if a.ISALevel == "" {
		a.ISALevel = org.ISAReadOnly
	}
	if a.Routing == "" {
		a.Routing = org.RoutingSiteAuthoriser
	}
	a.Notes = strings.TrimSpace(strings.ReplaceAll(in.Notes, "\r\n", "\n"))

	// The organisation's own fields are checked exactly as go-live will
	// check them, so that an accepted application cannot fail there.
	domains := make([]string, 0, len(in.EmailDomains))
	for _, d := range in.EmailDomains {
		if d = strings.TrimSpace(d); d != "" {
			domains = append(domains, d)
		}
	}
	if err := org.CheckOrganisation(org.OrganisationInput{Name: &a.Name, ODSCode: &a.ODSCode, ISALevel: &a.ISALevel,
		Routing: &a.Routing, AllowedDomains: &domains}); err != nil {
		for _, f := range errs.As(err).Fields {
			switch f.Field {
			case "allowed_domains":
				f.Field = "email_domains"
				if len(domains) == 0 {
					f.Message = "Give the e-mail domains of the staff accounts, such as nhs.net"
				}
			case "name":
				f.Message = strings.Replace(f.Message, "Enter the name", "Enter the organisation's name", 1)
			}
			v.Fields = append(v.Fields, f)
		}
	}
	a.EmailDomains = normaliseDomains(domains)
	if !isChoice(OrganisationTypes, a.OrganisationType) {
		v.Add("organisation_type", "Choose the type of organisation")
	}
	if a.SizeBand == "" {
		v.Add("size_band", "Choose the organisation's size band")
	}
	checkText(&v, "contact_name", "contact's name", a.ContactName, 200)
	if e, ok := auth.NormaliseEmail(a.ContactEmail); !ok {
		v.Add("contact_email", "Enter the contact's e-mail address, like name@nhs.net")
	} else {
		a.ContactEmail = e
	}
	if !isChoice(DSPTStatuses, a.DSPTStatus) {
		v.Add("dspt_status", "Choose the organisation's Data Security and Protection Toolkit status")
	}
	if len([]rune(a.Notes)) > 5000 {
		v.Add("notes", "Notes must be 5,000 characters or fewer")
	} else if strings.ContainsAny(a.Notes, "\x00") {
		v.Add("notes", "Notes must not contain control characters")
	}
	if err := v.Err(); err != nil {
		return err
	}
	a.prerequisites()
	return nil
}

// normaliseDomains lower-cases the domains, drops a leading @ and repeats.
func normaliseDomains(ds []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, d := range ds {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out
}

func checkText(v *errs.Validation, field, label, s string, max int) {
	switch {
	case s == "":
		v.Add(field, "Enter the %s", label)
	case len([]rune(s)) > max:
		v.Add(field, "The %s must be %d characters or fewer", label, max)
	case strings.ContainsAny(s, "<>\x00\r\n"):
		v.Add(field, "The %s must not contain < > or line breaks", label)
	}
}

// Decision is the IG steering group's decision on an application, as the
// programme administrator records it.
type Decision struct {
	MeetingDate string `json:"meeting_date"` // YYYY-MM-DD, not in the future
	Minutes     string `json:"minutes"`      // the minute of the decision
}

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (d *Decision) check(now time.Time) error {
	var v errs.Validation
	d.MeetingDate = strings.TrimSpace(d.MeetingDate)
	d.Minutes = strings.TrimSpace(strings.ReplaceAll(d.Minutes, "\r\n", "\n"))
	day, err := time.Parse(time.DateOnly, d.MeetingDate)
	switch {
	case d.MeetingDate == "":
		v.Add("meeting_date", "Enter the date of the steering group meeting")
	case !datePattern.MatchString(d.MeetingDate) || err != nil:
		v.Add("meeting_date", "Enter the meeting date as a real date, like 2026-03-27")
	case day.After(now):
		v.Add("meeting_date", "The meeting date must be today or in the past")
	}
	switch {
	case d.Minutes == "":
		v.Add("minutes", "Enter the minutes of the decision")
	case len([]rune(d.Minutes)) > 10000:
		v.Add("minutes", "The minutes must be 10,000 characters or fewer")
	}
	return v.Err()
}
