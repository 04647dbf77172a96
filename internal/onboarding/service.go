package onboarding

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// Service manages applications, the cost table and the suspension of new
// access requests.
type Service struct {
	db    *store.DB
	log   *audit.Log
	clock clock.Clock
	orgs  *org.Service

	banner bannerCache
}

// NewService returns the onboarding service. Go-live creates organisations
// through orgs, in the same transaction as the application's change.
func NewService(db *store.DB, log *audit.Log, c clock.Clock, orgs *org.Service) *Service {
	return &Service{db: db, log: log, clock: c, orgs: orgs}
}

// The application columns, with the e-mail addresses of the administrators
// who acted (the rows keep their account ids, which do not change).
const appSelect = `SELECT a.id, a.state, a.name, a.ods_code, a.organisation_type, a.size_band, a.contact_name, a.contact_email,
	a.provides_direct_care, a.dspt_status, a.hscn_connected, a.individual_email_accounts, a.email_domains, a.isa_level,
	a.routing, a.notes, COALESCE(su.email, ''), a.submitted_at, COALESCE(du.email, ''), a.decided_at, a.meeting_date,
	a.minutes, COALESCE(lu.email, ''), a.live_at, COALESCE(a.organisation_id, ''), a.updated_at,
	COALESCE(b.implementation_pence, 0), COALESCE(b.annual_pence, 0)
FROM onboarding_applications a
LEFT JOIN users su ON su.id = a.submitted_by
LEFT JOIN users du ON du.id = a.decided_by
LEFT JOIN users lu ON lu.id = a.live_by
LEFT JOIN size_bands b ON b.band = a.size_band`

func scanApp(row interface{ Scan(...any) error }) (*Application, error) {
	var a Application
	var dc, hscn, ind int
	var domains string
	var sub, dec, live, upd int64
	if err := row.Scan(&a.ID, &a.State, &a.Name, &a.ODSCode, &a.OrganisationType, &a.SizeBand, &a.ContactName, &a.ContactEmail,
		&dc, &a.DSPTStatus, &hscn, &ind, &domains, &a.ISALevel, &a.Routing, &a.Notes, &a.SubmittedBy, &sub, &a.DecidedBy, &dec,
		&a.MeetingDate, &a.Minutes, &a.LiveBy, &live, &a.OrganisationID, &upd, &a.ImplementationCost, &a.AnnualContribution); err != nil {
		return nil, err
	}
	a.ProvidesDirectCare, a.HSCNConnected, a.IndividualEmailAccounts = dc == 1, hscn == 1, ind == 1
	a.EmailDomains = []string{}
	if domains != "" {
		a.EmailDomains = strings.Split(domains, ",")
	}
	a.SubmittedAt, a.UpdatedAt = time.UnixMicro(sub).UTC(), time.UnixMicro(upd).UTC()
	a.DecidedAt, a.LiveAt = optTime(dec), optTime(live)
	a.prerequisites()
	return &a, nil
}

func optTime(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

func (s *Service) get(ctx context.Context, q store.Querier, id string) (*Application, error) {
	a, err := scanApp(q.QueryRow(ctx, appSelect+` WHERE a.id = ?`, id))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such application")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load application")
	}
	return a, nil
}

// Application returns one application. Callers: administrators. Errors:
// Forbidden, NotFound.
func (s *Service) Application(ctx context.Context, p *authz.Principal, id string) (*Application, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, id)
}

// Applications lists applications, newest first, optionally only those in
// one state. Callers: administrators. Errors: Forbidden, Invalid (unknown state).
func (s *Service) Applications(ctx context.Context, p *authz.Principal, state string) ([]*Application, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	q, args := appSelect, []any{}
	switch state {
	case "":
	case StateSubmitted, StateApproved, StateRejected, StateLive:
		q += ` WHERE a.state = ?`
		args = append(args, state)
	default:
		return nil, &errs.Error{Code: errs.Invalid, Message: "state must be submitted, approved, rejected or live",
			Fields: []errs.FieldError{{Field: "state", Message: "Must be submitted, approved, rejected or live"}}}
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY a.submitted_at DESC, a.id`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "list applications")
	}
	defer rows.Close()
	out := []*Application{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan application")
		}
		out = append(out, a)
	}
	return out, errs.Wrap(rows.Err(), "list applications")
}

// Summary is what taking part brings in: the costs of the organisations that
// are live, and of those approved and waiting to go live.
type Summary struct {
	Live                     int   `json:"live"` // organisations live through onboarding
	LiveImplementation       Pence `json:"live_implementation_pence"`
	LiveAnnual               Pence `json:"live_annual_contribution_pence"`
	Approved                 int   `json:"approved"` // approved, not yet live
	ApprovedImplementation   Pence `json:"approved_implementation_pence"`
	ApprovedAnnual           Pence `json:"approved_annual_contribution_pence"`
	Submitted                int   `json:"submitted"` // waiting for a decision
	SubmittedWithUnmetPrereq int   `json:"submitted_with_unmet_prerequisites"`
}

// Summarise totals the costs of live and approved organisations from the
// current size bands. Callers: administrators. Errors: Forbidden.
func (s *Service) Summarise(ctx context.Context, p *authz.Principal) (*Summary, error) {
	apps, err := s.Applications(ctx, p, "")
	if err != nil {
		return nil, err
	}
	var sum Summary
	for _, a := range apps {
		switch a.State {
		case StateLive:
			sum.Live++
			sum.LiveImplementation += a.ImplementationCost
			sum.LiveAnnual += a.AnnualContribution
		case StateApproved:
			sum.Approved++
			sum.ApprovedImplementation += a.ImplementationCost
			sum.ApprovedAnnual += a.AnnualContribution
		case StateSubmitted:
			sum.Submitted++
			if !a.MeetsPrerequisites() {
				sum.SubmittedWithUnmetPrereq++
			}
		}
	}
	return &sum, nil
}

// bannerCache keeps the suspension message for a few seconds; see Banner.
type bannerCache struct {
	mu      sync.Mutex
	at      time.Time // monotonic reading of when it was filled; zero: empty
	message string
}
