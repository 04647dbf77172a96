package org

import (
	"context"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

const siteColumns = `id, organisation_id, name, status, created_at, updated_at`

func scanSite(row interface{ Scan(...any) error }) (*Site, error) {
	var s Site
	var c, u int64
	if err := row.Scan(&s.ID, &s.OrganisationID, &s.Name, &s.Status, &c, &u); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
	return &s, nil
}

func (s *Service) getSite(ctx context.Context, q store.Querier, id string) (*Site, error) {
	site, err := scanSite(q.QueryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = ?`, id))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such site")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load site")
	}
	return site, nil
}

// canReadSite: region-wide staff, the organisation's service desk and the
// site's own authorisers.
func (s *Service) canReadSite(p *authz.Principal, site *Site) bool {
	return MayReadSite(p, site.OrganisationID, site.ID)
}

// MayReadSite reports whether p may see the site siteID of the
// organisation orgID, as Site decides: for pages that show a site's name
// read with something else.
func MayReadSite(p *authz.Principal, orgID, siteID string) bool {
	return p.Has(authz.Admin) || p.Has(authz.BackOffice) || p.Has(authz.PrivacyOfficer) ||
		p.StaffsServiceDesk(orgID) || p.Authorises(siteID)
}

// Site returns a site. Errors: NotFound, Forbidden.
func (s *Service) Site(ctx context.Context, p *authz.Principal, id string) (*Site, error) {
	site, err := s.getSite(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if !s.canReadSite(p, site) {
		return nil, errs.E(errs.Forbidden, "You do not have permission to see this site")
	}
	return site, nil
}

// SiteWithOrganisation returns a site and its organisation, each read
// once, for a page that shows both. Whoever may see a site may see its
// organisation: region-wide staff, its service desk and the site's own
// authorisers all may (see canRead), so the organisation needs no check of
// its own. Errors: NotFound, Forbidden.
func (s *Service) SiteWithOrganisation(ctx context.Context, p *authz.Principal, id string) (*Site, *Organisation, error) {
	site, err := s.Site(ctx, p, id)
	if err != nil {
		return nil, nil, err
	}
	o, err := s.getOrg(ctx, s.db, site.OrganisationID)
	if err != nil {
		return nil, nil, err
	}
	return site, o, nil
}

// Sites lists the sites of an organisation that p may see.
// Errors: NotFound, Forbidden.
func (s *Service) Sites(ctx context.Context, p *authz.Principal, orgID string) ([]*Site, error) {
	if _, err := s.Organisation(ctx, p, orgID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+siteColumns+` FROM sites WHERE organisation_id = ? ORDER BY name`, orgID)
	if err != nil {
		return nil, errs.Wrap(err, "list sites")
	}
	defer rows.Close()
	out := []*Site{}
	for rows.Next() {
		site, err := scanSite(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan site")
		}
		if s.canReadSite(p, site) {
			out = append(out, site)
		}
	}
	return out, rows.Err()
}

// AuthorisedSites lists the sites p authorises, for the "Manage sites" menu.
func (s *Service) AuthorisedSites(ctx context.Context, p *authz.Principal) ([]*Site, error) {
	out := []*Site{}
	for _, id := range p.AuthoriserOf {
		site, err := s.getSite(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		out = append(out, site)
	}
	return out, nil
}

// CreateSite adds a site to an organisation. Callers: administrators.
// Errors: Forbidden, NotFound, Invalid, Conflict (name in use).
func (s *Service) CreateSite(ctx context.Context, p *authz.Principal, orgID string, in SiteInput) (*Site, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	site := &Site{OrganisationID: orgID, Status: SiteActive}
	if err := in.apply(site); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	site.ID, site.CreatedAt, site.UpdatedAt = ident.New(), now, now
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.getOrg(ctx, tx, orgID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sites (`+siteColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			site.ID, orgID, site.Name, site.Status, now.UnixMicro(), now.UnixMicro())
		if store.IsUniqueViolation(err) {
			return siteConflict(site.Name)
		}
		if err != nil {
			return errs.Wrap(err, "insert site")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "site.create", "site", site.ID, audit.Success,
			map[string]string{"organisation_id": orgID, "name": site.Name}))
	})
	if err != nil {
		return nil, err
	}
	return site, nil
}

func siteConflict(name string) error {
	m := "The organisation already has a site called " + name
	return &errs.Error{Code: errs.Conflict, Message: m, Fields: []errs.FieldError{{Field: "name", Message: m}}}
}

// UpdateSite renames, closes or reopens a site. Callers: administrators.
// Errors: Forbidden, NotFound, Invalid, Conflict.
func (s *Service) UpdateSite(ctx context.Context, p *authz.Principal, id string, in SiteInput) (*Site, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	var site *Site
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if site, err = s.getSite(ctx, tx, id); err != nil {
			return err
		}
		before := *site
		if err := in.apply(site); err != nil {
			return err
		}
		site.UpdatedAt = s.clock.Now()
		_, err = tx.Exec(ctx, `UPDATE sites SET name = ?, status = ?, updated_at = ? WHERE id = ?`, site.Name, site.Status, site.UpdatedAt.UnixMicro(), id)
		if store.IsUniqueViolation(err) {
			return siteConflict(site.Name)
		}
		if err != nil {
			return errs.Wrap(err, "update site")
		}
		d := map[string]string{}
		if before.Name != site.Name {
			d["name"] = before.Name + " -> " + site.Name
		}
		if before.Status != site.Status {
			d["status"] = before.Status + " -> " + site.Status
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "site.update", "site", id, audit.Success, d))
	})
	if err != nil {
		return nil, err
	}
	return site, nil
}
