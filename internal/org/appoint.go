package org

import (
	"context"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// Appointee names the person to appoint. When no account has the e-mail
// address, one is created from the names and a one-time set-up link is
// returned for them.
type Appointee struct {
	Email      string `json:"email"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
}

// Appointment is the result of appointing someone.
type Appointment struct {
	Person    Person `json:"person"`
	Created   bool   `json:"account_created"`
	SetupLink string `json:"-"` // one-time token, when an account was created
}

// roleTable describes one appointable role.
type roleTable struct {
	table, scopeCol, action, label string
}

var (
	authoriserRole  = roleTable{"site_authorisers", "site_id", "site.authoriser", "site authoriser"}
	serviceDeskRole = roleTable{"service_desk_staff", "organisation_id", "organisation.service_desk", "service-desk member"}
)

// AppointAuthoriser makes someone a site authoriser. Their e-mail must be on
// an allowed domain of the site's organisation. Callers: administrators.
// Errors: Forbidden, NotFound, Invalid, Conflict (already appointed).
func (s *Service) AppointAuthoriser(ctx context.Context, p *authz.Principal, siteID string, a Appointee) (*Appointment, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	site, err := s.getSite(ctx, s.db, siteID)
	if err != nil {
		return nil, err
	}
	return s.appoint(ctx, p, authoriserRole, siteID, site.OrganisationID, a)
}

// AppointServiceDesk puts someone on an organisation's service desk.
// Callers: administrators. Errors as AppointAuthoriser.
func (s *Service) AppointServiceDesk(ctx context.Context, p *authz.Principal, orgID string, a Appointee) (*Appointment, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	return s.appoint(ctx, p, serviceDeskRole, orgID, orgID, a)
}

func (s *Service) appoint(ctx context.Context, p *authz.Principal, r roleTable, scopeID, orgID string, a Appointee) (*Appointment, error) {
	email, ok := auth.NormaliseEmail(a.Email)
	if !ok {
		return nil, &errs.Error{Code: errs.Invalid, Message: "Enter a valid e-mail address",
			Fields: []errs.FieldError{{Field: "email", Message: "Enter a valid e-mail address, like name@nhs.net"}}}
	}
	var out Appointment
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		o, err := s.getOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if !o.AllowsEmail(email) {
			m := "The e-mail address must be on one of the organisation's allowed domains: " + joinDomains(o.AllowedDomains)
			return &errs.Error{Code: errs.Invalid, Message: m, Fields: []errs.FieldError{{Field: "email", Message: m}}}
		}
		var userID, given, family string
		err = tx.QueryRow(ctx, `SELECT id, given_name, family_name FROM users WHERE email = ?`, email).Scan(&userID, &given, &family)
		if store.IsNoRows(err) {
			u, err := s.users.CreateUserTx(ctx, tx, p.Who(), auth.NewUser{Email: email, GivenName: a.GivenName, FamilyName: a.FamilyName})
			if err != nil {
				return err
			}
			userID, given, family, out.Created = u.ID, u.GivenName, u.FamilyName, true
			if out.SetupLink, err = s.users.CreateSetupLinkTx(ctx, tx, p.Who(), u.ID); err != nil {
				return err
			}
		} else if err != nil {
			return errs.Wrap(err, "find user")
		}
		now := s.clock.Now()
		_, err = tx.Exec(ctx, `INSERT INTO `+r.table+` (`+r.scopeCol+`, user_id, created_at) VALUES (?, ?, ?)`, scopeID, userID, now.UnixMicro())
		if store.IsUniqueViolation(err) {
			m := email + " is already a " + r.label + " here"
			return &errs.Error{Code: errs.Conflict, Message: m, Fields: []errs.FieldError{{Field: "email", Message: m}}}
		}
		if err != nil {
			return errs.Wrap(err, "appoint")
		}
		out.Person = Person{UserID: userID, Email: email, Name: given + " " + family, Since: now}
		return s.log.Record(ctx, tx, audit.New(p.Who(), r.action+".appoint", r.scopeCol[:len(r.scopeCol)-3], scopeID, audit.Success,
			map[string]string{"user_id": userID, "email": email}))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func joinDomains(ds []string) string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += ", "
		}
		s += d
	}
	return s
}

// RemoveAuthoriser ends a site authoriser appointment. Callers:
// administrators. Errors: Forbidden, NotFound.
func (s *Service) RemoveAuthoriser(ctx context.Context, p *authz.Principal, siteID, userID string) error {
	return s.remove(ctx, p, authoriserRole, siteID, userID)
}

// RemoveServiceDesk takes someone off an organisation's service desk.
// Callers: administrators. Errors: Forbidden, NotFound.
func (s *Service) RemoveServiceDesk(ctx context.Context, p *authz.Principal, orgID, userID string) error {
	return s.remove(ctx, p, serviceDeskRole, orgID, userID)
}

func (s *Service) remove(ctx context.Context, p *authz.Principal, r roleTable, scopeID, userID string) error {
	if err := authz.Require(p, authz.Admin); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM `+r.table+` WHERE `+r.scopeCol+` = ? AND user_id = ?`, scopeID, userID)
		if err != nil {
			return errs.Wrap(err, "remove appointment")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "That person is not a %s here", r.label)
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), r.action+".remove", r.scopeCol[:len(r.scopeCol)-3], scopeID, audit.Success,
			map[string]string{"user_id": userID}))
	})
}

// Authorisers lists the authorisers of a site loaded in this request (by
// Site or SiteWithOrganisation). Errors: Forbidden.
func (s *Service) Authorisers(ctx context.Context, p *authz.Principal, site *Site) ([]Person, error) {
	if err := mayList(p, site); err != nil {
		return nil, err
	}
	return s.people(ctx, authoriserRole, site.ID)
}

// mayList checks that p may see a site already loaded (by Site or
// SiteWithOrganisation, in the same request), as Site would, without
// reading it again.
func mayList(p *authz.Principal, site *Site) error {
	if !MayReadSite(p, site.OrganisationID, site.ID) {
		return errs.E(errs.Forbidden, "You do not have permission to see this site")
	}
	return nil
}

// ServiceDeskStaff lists an organisation's service-desk staff.
// Errors: NotFound, Forbidden.
func (s *Service) ServiceDeskStaff(ctx context.Context, p *authz.Principal, orgID string) ([]Person, error) {
	if _, err := s.Organisation(ctx, p, orgID); err != nil {
		return nil, err
	}
	return s.people(ctx, serviceDeskRole, orgID)
}

func (s *Service) people(ctx context.Context, r roleTable, scopeID string) ([]Person, error) {
	rows, err := s.db.Query(ctx, `SELECT u.id, u.email, u.given_name, u.family_name, a.created_at FROM `+r.table+` a
		JOIN users u ON u.id = a.user_id WHERE a.`+r.scopeCol+` = ? ORDER BY u.family_name, u.given_name`, scopeID)
	if err != nil {
		return nil, errs.Wrap(err, "list people")
	}
	defer rows.Close()
	out := []Person{}
	for rows.Next() {
		var pr Person
		var g, f string
		var at int64
		if err := rows.Scan(&pr.UserID, &pr.Email, &g, &f, &at); err != nil {
			return nil, errs.Wrap(err, "scan person")
		}
		pr.Name, pr.Since = g+" "+f, time.UnixMicro(at).UTC()
		out = append(out, pr)
	}
	return out, rows.Err()
}

// Members lists the current members of a site loaded in this request,
// marking its authorisers. Errors: Forbidden.
func (s *Service) Members(ctx context.Context, p *authz.Principal, site *Site) ([]Person, error) {
	if err := mayList(p, site); err != nil {
		return nil, err
	}
	siteID := site.ID
	rows, err := s.db.Query(ctx, `SELECT u.id, u.email, u.given_name, u.family_name, m.joined_at, m.job_title, m.status,
		EXISTS (SELECT 1 FROM site_authorisers sa WHERE sa.site_id = m.site_id AND sa.user_id = m.user_id)
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.site_id = ? AND m.status = 'active' ORDER BY u.family_name, u.given_name`, siteID)
	if err != nil {
		return nil, errs.Wrap(err, "list members")
	}
	defer rows.Close()
	out := []Person{}
	for rows.Next() {
		var pr Person
		var g, f string
		var at int64
		var isAuth any
		if err := rows.Scan(&pr.UserID, &pr.Email, &g, &f, &at, &pr.JobTitle, &pr.Status, &isAuth); err != nil {
			return nil, errs.Wrap(err, "scan member")
		}
		pr.Name, pr.Since = g+" "+f, time.UnixMicro(at).UTC()
		switch v := isAuth.(type) {
		case bool:
			pr.Authorise = v
		case int64:
			pr.Authorise = v != 0
		}
		out = append(out, pr)
	}
	return out, rows.Err()
}

// AddMemberTx records a membership directly (demo loading; invitations arrive
// in the authoriser's portal).
func (s *Service) AddMemberTx(ctx context.Context, tx *store.Tx, who audit.Who, id, siteID, userID, jobTitle, jobCategory string) error {
	now := s.clock.Now().UnixMicro()
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (id, site_id, user_id, job_title, job_category, status, joined_at) VALUES (?, ?, ?, ?, ?, 'active', ?)`,
		id, siteID, userID, jobTitle, jobCategory, now); err != nil {
		return errs.Wrap(err, "insert membership")
	}
	return s.log.Record(ctx, tx, audit.New(who, "membership.create", "site", siteID, audit.Success, map[string]string{"user_id": userID}))
}
