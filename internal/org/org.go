package org

import (
	"regexp"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
)

// Organisation statuses.
const (
	StatusActive    = "active"    // taking part; new access requests accepted
	StatusSuspended = "suspended" // new access requests suspended by the programme
	StatusLeft      = "left"      // no longer a partner
)

// Information sharing agreement levels.
const (
	ISAReadOnly = "read_only"
	ISAWrite    = "write"
)

// Request routing: who validates an organisation's access requests.
const (
	RoutingServiceDesk    = "service_desk"    // the organisation's IT service desk validates
	RoutingSiteAuthoriser = "site_authoriser" // the site authoriser's submission counts as validated
)

// DefaultDomains are the e-mail domains allowed when none are given.
var DefaultDomains = []string{"nhs.net", "gov.uk"}

// Organisation is a partner organisation of the shared care record.
type Organisation struct {
	ID                string    `json:"id"`
	ODSCode           string    `json:"ods_code"`
	Name              string    `json:"name"`
	Status            string    `json:"status"`
	ISALevel          string    `json:"isa_level"`
	Routing           string    `json:"routing"`
	AllowedDomains    []string  `json:"allowed_domains"`
	PasswordRecipient string    `json:"password_recipient"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// OrganisationInput holds the editable fields of an organisation. Nil
// pointers are left unchanged by an update and take defaults on creation.
type OrganisationInput struct {
	ODSCode           *string   `json:"ods_code"`
	Name              *string   `json:"name"`
	Status            *string   `json:"status"`
	ISALevel          *string   `json:"isa_level"`
	Routing           *string   `json:"routing"`
	AllowedDomains    *[]string `json:"allowed_domains"`
	PasswordRecipient *string   `json:"password_recipient"`
}

// ODS codes of organisations and sites are three to ten letters and digits
// (e.g. "RR8", "B86001", "8JN23"). Many trust codes have no digit at all
// (University Hospitals of Leicester is "RWE"), so none is required.
var odsPattern = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)

var domainPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// apply validates in and applies it to o.
func (in *OrganisationInput) apply(o *Organisation) error {
	var v errs.Validation // errors in the order of the form's fields
	if in.Name != nil {
		o.Name = strings.TrimSpace(*in.Name)
	}
	v.Text("name", "Name", o.Name, true, 200)
	if in.ODSCode != nil {
		code := strings.ToUpper(strings.TrimSpace(*in.ODSCode))
		if !odsPattern.MatchString(code) {
			v.Add("ods_code", "Enter a valid ODS code: 3 to 10 letters and digits (for example RR8 or B86001)")
		}
		o.ODSCode = code
	}
	if in.Status != nil {
		o.Status = *in.Status
	}
	if o.Status != StatusActive && o.Status != StatusSuspended && o.Status != StatusLeft {
		v.Add("status", "Status must be active, suspended or left")
	}
	if in.ISALevel != nil {
		o.ISALevel = *in.ISALevel
	}
	if o.ISALevel != ISAReadOnly && o.ISALevel != ISAWrite {
		v.Add("isa_level", "ISA level must be read_only or write")
	}
	if in.Routing != nil {
		o.Routing = *in.Routing
	}
	if o.Routing != RoutingServiceDesk && o.Routing != RoutingSiteAuthoriser {
		v.Add("routing", "Request routing must be service_desk or site_authoriser")
	}
	if in.AllowedDomains != nil {
		o.AllowedDomains = nil
		seen := map[string]bool{}
		for _, d := range *in.AllowedDomains {
			d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
			if d == "" || seen[d] {
				continue
			}
			seen[d] = true
			if !domainPattern.MatchString(d) || len(d) > 253 {
				v.Add("allowed_domains", "%q is not a valid e-mail domain (for example nhs.net)", d)
				continue
			}
			o.AllowedDomains = append(o.AllowedDomains, d)
		}
	}
	if len(o.AllowedDomains) == 0 && !v.Has("allowed_domains") {
		v.Add("allowed_domains", "Give at least one allowed e-mail domain, such as nhs.net")
	}
	if len(o.AllowedDomains) > 50 {
		v.Add("allowed_domains", "Give at most 50 e-mail domains")
	}
	if in.PasswordRecipient != nil {
		o.PasswordRecipient = strings.ToLower(strings.TrimSpace(*in.PasswordRecipient))
	}
	if o.PasswordRecipient != "" {
		if _, ok := auth.NormaliseEmail(o.PasswordRecipient); !ok {
			v.Add("password_recipient", "Enter the nominated individual's e-mail address, like name@nhs.net")
		} else if !v.Has("allowed_domains") && !o.AllowsEmail(o.PasswordRecipient) {
			v.Add("password_recipient", "The nominated individual's e-mail address must be on one of the organisation's allowed domains")
		}
	}
	return v.Err()
}

// AllowsEmail reports whether an e-mail address is on one of the
// organisation's allowed domains (exactly, not a subdomain).
func (o *Organisation) AllowsEmail(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	d := strings.ToLower(email[at+1:])
	for _, a := range o.AllowedDomains {
		if d == a {
			return true
		}
	}
	return false
}

// Site statuses.
const (
	SiteActive = "active"
	SiteClosed = "closed"
)

// Site is a team or service within an organisation; members belong to sites
// and site authorisers manage them.
type Site struct {
	ID             string    `json:"id"`
	OrganisationID string    `json:"organisation_id"`
	Name           string    `json:"name"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// SiteInput holds the editable fields of a site.
type SiteInput struct {
	Name   *string `json:"name"`
	Status *string `json:"status"`
}

func (in *SiteInput) apply(s *Site) error {
	var v errs.Validation
	if in.Name != nil {
		s.Name = strings.TrimSpace(*in.Name)
	}
	v.Text("name", "Name", s.Name, true, 200)
	if in.Status != nil {
		s.Status = *in.Status
	}
	if s.Status != SiteActive && s.Status != SiteClosed {
		v.Add("status", "Status must be active or closed")
	}
	return v.Err()
}

// Person is someone appointed to a role, as listed on organisation and site pages.
type Person struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Since     time.Time `json:"since"`
	JobTitle  string    `json:"job_title,omitempty"`
	Status    string    `json:"status,omitempty"`
	Authorise bool      `json:"site_authoriser,omitempty"`
}
