package org

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Service manages organisations and sites.
type Service struct {
	db    *store.DB
	log   *audit.Log
	clock clock.Clock
	users *auth.Service
}

// NewService returns the organisations service.
func NewService(db *store.DB, log *audit.Log, c clock.Clock, users *auth.Service) *Service {
	return &Service{db: db, log: log, clock: c, users: users}
}

const orgColumns = `id, ods_code, name, status, isa_level, routing, allowed_domains, password_recipient, created_at, updated_at`

func scanOrg(row interface{ Scan(...any) error }) (*Organisation, error) {
	var o Organisation
	var domains string
	var c, u int64
	if err := row.Scan(&o.ID, &o.ODSCode, &o.Name, &o.Status, &o.ISALevel, &o.Routing, &domains, &o.PasswordRecipient, &c, &u); err != nil {
		return nil, err
	}
	o.AllowedDomains = strings.Split(domains, ",")
	o.CreatedAt, o.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
	return &o, nil
}

// MayRead reports whether p may see an organisation, as Organisation
// decides: for pages that show its name read with something else.
func (s *Service) MayRead(ctx context.Context, p *authz.Principal, orgID string) bool {
	return s.canRead(ctx, p, orgID)
}

// canRead reports whether p may see an organisation: region-wide staff, its
// service desk, and authorisers of its sites.
func (s *Service) canRead(ctx context.Context, p *authz.Principal, orgID string) bool {
	if p.Has(authz.Admin) || p.Has(authz.BackOffice) || p.Has(authz.PrivacyOfficer) || p.StaffsServiceDesk(orgID) {
		return true
	}
	for _, siteID := range p.AuthoriserOf {
		if site, err := s.getSite(ctx, s.db, siteID); err == nil && site.OrganisationID == orgID {
			return true
		}
	}
	return false
}

// ListOrganisations returns the organisations p may see, by name.
func (s *Service) ListOrganisations(ctx context.Context, p *authz.Principal) ([]*Organisation, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	rows, err := s.db.Query(ctx, `SELECT `+orgColumns+` FROM organisations ORDER BY name, ods_code`)
	if err != nil {
		return nil, errs.Wrap(err, "list organisations")
	}
	defer rows.Close()
	var all []*Organisation
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan organisation")
		}
		all = append(all, o)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "list organisations")
	}
	rows.Close()
	out := []*Organisation{}
	for _, o := range all {
		if s.canRead(ctx, p, o.ID) {
			out = append(out, o)
		}
	}
	if len(out) == 0 && !p.IsAuthoriser() && len(p.ServiceDeskOf) == 0 && !p.Has(authz.Admin) && !p.Has(authz.BackOffice) && !p.Has(authz.PrivacyOfficer) {
		return nil, errs.E(errs.Forbidden, "You do not have permission to see organisations")
	}
	return out, nil
}

// Organisation returns one organisation. Errors: NotFound, Forbidden.
func (s *Service) Organisation(ctx context.Context, p *authz.Principal, id string) (*Organisation, error) {
	o, err := s.getOrg(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if !s.canRead(ctx, p, id) {
		return nil, errs.E(errs.Forbidden, "You do not have permission to see this organisation")
	}
	return o, nil
}

func (s *Service) getOrg(ctx context.Context, q store.Querier, id string) (*Organisation, error) {
	o, err := scanOrg(q.QueryRow(ctx, `SELECT `+orgColumns+` FROM organisations WHERE id = ?`, id))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such organisation")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load organisation")
	}
	return o, nil
}

// CreateOrganisation adds a partner organisation. Callers: administrators.
// Errors: Forbidden, Invalid, Conflict (ODS code in use).
func (s *Service) CreateOrganisation(ctx context.Context, p *authz.Principal, in OrganisationInput) (*Organisation, error) {
	var o *Organisation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		o, err = s.CreateOrganisationTx(ctx, tx, p, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// CreateOrganisationTx is CreateOrganisation inside the caller's transaction,
// for a change that must commit together with the new organisation (partner
// onboarding's go-live). Callers and errors as CreateOrganisation.
func (s *Service) CreateOrganisationTx(ctx context.Context, tx *store.Tx, p *authz.Principal, in OrganisationInput) (*Organisation, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	o, err := newOrganisation(in)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	o.ID, o.CreatedAt, o.UpdatedAt = ident.New(), now, now
	_, err = tx.Exec(ctx, `INSERT INTO organisations (`+orgColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.ODSCode, o.Name, o.Status, o.ISALevel, o.Routing, strings.Join(o.AllowedDomains, ","), o.PasswordRecipient,
		now.UnixMicro(), now.UnixMicro())
	if store.IsUniqueViolation(err) {
		return nil, odsConflict(o.ODSCode)
	}
	if err != nil {
		return nil, errs.Wrap(err, "insert organisation")
	}
	if err := s.log.Record(ctx, tx, audit.New(p.Who(), "organisation.create", "organisation", o.ID, audit.Success,
		map[string]string{"ods_code": o.ODSCode, "name": o.Name})); err != nil {
		return nil, err
	}
	return o, nil
}

// CheckOrganisation validates in as CreateOrganisation would, storing
// nothing, so that a caller (onboarding) can refuse at once what would fail
// later. Errors: Invalid.
func CheckOrganisation(in OrganisationInput) error {
	_, err := newOrganisation(in)
	return err
}

// newOrganisation applies in to the defaults of a new organisation.
func newOrganisation(in OrganisationInput) (*Organisation, error) {
	o := &Organisation{Status: StatusActive, ISALevel: ISAReadOnly, Routing: RoutingSiteAuthoriser,
		AllowedDomains: slices.Clone(DefaultDomains)}
	if in.ODSCode == nil {
		empty := ""
		in.ODSCode = &empty
	}
	if err := in.apply(o); err != nil {
		return nil, err
	}
	return o, nil
}

func odsConflict(code string) error {
	m := "An organisation with ODS code " + code + " already exists"
	return &errs.Error{Code: errs.Conflict, Message: m, Fields: []errs.FieldError{{Field: "ods_code", Message: m}}}
}

// UpdateOrganisation changes an organisation. Callers: administrators.
// Errors: Forbidden, NotFound, Invalid, Conflict.
func (s *Service) UpdateOrganisation(ctx context.Context, p *authz.Principal, id string, in OrganisationInput) (*Organisation, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	var o *Organisation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if o, err = s.getOrg(ctx, tx, id); err != nil {
			return err
		}
		before := *o
		if err := in.apply(o); err != nil {
			return err
		}
		o.UpdatedAt = s.clock.Now()
		_, err = tx.Exec(ctx, `UPDATE organisations SET ods_code = ?, name = ?, status = ?, isa_level = ?, routing = ?,
			allowed_domains = ?, password_recipient = ?, updated_at = ? WHERE id = ?`,
			o.ODSCode, o.Name, o.Status, o.ISALevel, o.Routing, strings.Join(o.AllowedDomains, ","), o.PasswordRecipient,
			o.UpdatedAt.UnixMicro(), id)
		if store.IsUniqueViolation(err) {
			return odsConflict(o.ODSCode)
		}
		if err != nil {
			return errs.Wrap(err, "update organisation")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "organisation.update", "organisation", id, audit.Success, diffOrg(&before, o)))
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func diffOrg(a, b *Organisation) map[string]string {
	d := map[string]string{}
	add := func(k, x, y string) {
		if x != y {
			d[k] = x + " -> " + y
		}
	}
	add("ods_code", a.ODSCode, b.ODSCode)
	add("name", a.Name, b.Name)
	add("status", a.Status, b.Status)
	add("isa_level", a.ISALevel, b.ISALevel)
	add("routing", a.Routing, b.Routing)
	add("allowed_domains", strings.Join(a.AllowedDomains, ","), strings.Join(b.AllowedDomains, ","))
	add("password_recipient", a.PasswordRecipient, b.PasswordRecipient)
	return d
}
