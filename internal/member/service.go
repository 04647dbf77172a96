package member

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
)

// Config holds the authoriser's portal's rules; zero fields take defaults.
type Config struct {
	// InvitationValidFor is how long an invitation link works (30 days).
	InvitationValidFor time.Duration
	// BaseURL is the public address put in invitation links.
	BaseURL string
}

func (c *Config) defaults() {
	if c.InvitationValidFor <= 0 {
		c.InvitationValidFor = 30 * 24 * time.Hour
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
}

// Service runs the authoriser's portal.
type Service struct {
	db       *store.DB
	log      *audit.Log
	clock    clock.Clock
	users    *auth.Service
	orgs     *org.Service
	access   *access.Service
	training *training.Service
	outbox   *notify.Outbox
	cfg      Config
}

// NewService returns the service.
func NewService(db *store.DB, log *audit.Log, c clock.Clock, users *auth.Service, orgs *org.Service, acc *access.Service,
	tr *training.Service, outbox *notify.Outbox, cfg Config) *Service {
	cfg.defaults()
	return &Service{db: db, log: log, clock: c, users: users, orgs: orgs, access: acc, training: tr, outbox: outbox, cfg: cfg}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

var london = clock.London

// today is the start of the current day in England.
func (s *Service) today() time.Time { return clock.Today(s.clock) }

func (s *Service) link(path string) string { return s.cfg.BaseURL + path }

// place is a site with its organisation, loaded for an action on it.
type place struct {
	site *org.Site
	org  *org.Organisation
}

// manage loads a site for an action by one of its authorisers. Only the
// site's own authorisers manage it: programme administrators may read
// (see read) but act through the back office. Errors: Unauthenticated,
// Forbidden, NotFound, Conflict (site closed, organisation left).
func (s *Service) manage(ctx context.Context, p *authz.Principal, siteID string) (*place, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	if !p.Authorises(siteID) {
		return nil, errs.E(errs.Forbidden, "Only this site's authorisers can manage its members and invitations")
	}
	pl, err := s.read(ctx, p, siteID)
	if err != nil {
		return nil, err
	}
	if pl.site.Status != org.SiteActive {
		return nil, errs.E(errs.Conflict, "%s is closed: it cannot take new members or changes", pl.site.Name)
	}
	if pl.org.Status == org.StatusLeft {
		return nil, errs.E(errs.Conflict, "%s is no longer a partner organisation", pl.org.Name)
	}
	return pl, nil
}

// read loads a site for reading its invitations and members: its
// authorisers and programme administrators.
func (s *Service) read(ctx context.Context, p *authz.Principal, siteID string) (*place, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	if !p.Authorises(siteID) && !p.IsAdmin() {
		return nil, errs.E(errs.Forbidden, "Only this site's authorisers can see its members and invitations")
	}
	site, err := s.orgs.Site(ctx, p, siteID)
	if err != nil {
		return nil, err
	}
	o, err := s.orgs.Organisation(ctx, p, site.OrganisationID)
	if err != nil {
		return nil, err
	}
	return &place{site: site, org: o}, nil
}

// futureDate checks an optional YYYY-MM-DD date that must not be in the
// past (today is allowed).
func (s *Service) futureDate(v *errs.Validation, field, label, d string) string {
	d = strings.TrimSpace(d)
	if d == "" {
		return ""
	}
	t, err := time.ParseInLocation("2006-01-02", d, london)
	if err != nil {
		v.Add(field, "%s must be a real date, like 2027-03-31", label)
		return d
	}
	if t.Before(s.today()) {
		v.Add(field, "%s cannot be in the past", label)
	}
	return d
}

// phone checks a contact number: digits, spaces and + ( ) -.
func phone(v *errs.Validation, s string, required bool) string {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			v.Add("phone", "Enter a contact number")
		}
		return s
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +()-", r):
		default:
			v.Add("phone", "Enter a contact number using digits, spaces and + ( ) - only, like 0113 123 4567")
			return s
		}
	}
	if digits < 6 || len(s) > 30 {
		v.Add("phone", "Enter a contact number of 6 to 20 digits, like 0113 123 4567")
	}
	return s
}

// check validates an invitation form for an organisation.
func (s *Service) check(in *InvitationInput, o *org.Organisation) error {
	var v errs.Validation
	in.GivenName = v.Text("given_name", "Forename", in.GivenName, true, 100)
	in.FamilyName = v.Text("family_name", "Surname", in.FamilyName, true, 100)
	email, ok := auth.NormaliseEmail(in.Email)
	switch {
	case !ok:
		v.Add("email", "Enter an e-mail address in the correct format, like name@nhs.net")
	case !o.AllowsEmail(email):
		v.Add("email", "The e-mail address must be on one of %s's allowed domains: %s", o.Name, strings.Join(o.AllowedDomains, ", "))
	}
	in.Email = email
	in.Phone = phone(&v, in.Phone, true)
	in.JobTitle = v.Text("job_title", "Job title", in.JobTitle, true, 100)
	in.JobCategory = strings.TrimSpace(in.JobCategory)
	if i := slices.IndexFunc(JobCategories, func(c string) bool { return strings.EqualFold(c, in.JobCategory) }); i >= 0 {
		in.JobCategory = JobCategories[i]
	} else {
		v.Add("job_category", "Choose a job category from the list")
	}
	in.RecordRole = strings.TrimSpace(in.RecordRole)
	if !slices.Contains(access.Roles, in.RecordRole) {
		v.Add("record_role", "Choose the record role: Care Professional or Administrator")
	}
	in.FinishingDate = s.futureDate(&v, "finishing_date", "The finishing date", in.FinishingDate)
	if !in.IGConfirmed {
		v.Add("ig_confirmed", "Confirm that this person is compliant with your organisation's information governance training")
	}
	return v.Err()
}
