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

// Place is a site with its organisation as one request of the authoriser's
// portal sees them: loaded once, by Open, which checks who may see the
// site's invitations and members, and passed to every call the request
// makes, so that neither is read again. It remembers who opened it: calls
// act as that person, and those that change anything check that they are
// one of the site's authorisers (manage). It is made only by Open (a Place
// made otherwise is refused) and is good for one request.
type Place struct {
	site *org.Site
	org  *org.Organisation
	by   *authz.Principal
}

// Site is the place's site.
func (pl *Place) Site() *org.Site { return pl.site }

// Org is the site's organisation.
func (pl *Place) Org() *org.Organisation { return pl.org }

// CanManage reports whether whoever opened the place is one of the site's
// authorisers, who manage its invitations and members; programme
// administrators only read them.
func (pl *Place) CanManage() bool { return pl.by.Authorises(pl.site.ID) }

// Open loads a site and its organisation for reading its invitations and
// members, the one check of who may: its authorisers and programme
// administrators. Callers: the portal and the API, once per request.
// Errors: Unauthenticated, Forbidden, NotFound.
func (s *Service) Open(ctx context.Context, p *authz.Principal, siteID string) (*Place, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	if !p.Authorises(siteID) && !p.IsAdmin() {
		return nil, errs.E(errs.Forbidden, "Only this site's authorisers can see its members and invitations")
	}
	site, o, err := s.orgs.SiteWithOrganisation(ctx, p, siteID)
	if err != nil {
		return nil, err
	}
	return &Place{site: site, org: o, by: p}, nil
}

// principal is whoever opened the place (nil for a Place not made by Open,
// which manage and read refuse).
func (pl *Place) principal() *authz.Principal {
	if pl == nil {
		return nil
	}
	return pl.by
}

// read checks that the place was opened (by Open).
func (pl *Place) read() error {
	if pl == nil || pl.by == nil {
		return errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	return nil
}

// manage checks that whoever opened the place may act on it. Only the
// site's own authorisers manage it: programme administrators may read but
// act through the back office. A closed site, or the site of an
// organisation that has left, takes no changes. Errors: Unauthenticated,
// Forbidden, Conflict.
func (pl *Place) manage() error {
	if err := pl.read(); err != nil {
		return err
	}
	if !pl.CanManage() {
		return errs.E(errs.Forbidden, "Only this site's authorisers can manage its members and invitations")
	}
	if pl.site.Status != org.SiteActive {
		return errs.E(errs.Conflict, "%s is closed: it cannot take new members or changes", pl.site.Name)
	}
	if pl.org.Status == org.StatusLeft {
		return errs.E(errs.Conflict, "%s is no longer a partner organisation", pl.org.Name)
	}
	return nil
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
