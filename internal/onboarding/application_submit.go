package onboarding

import (
	"context"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Submit records a new organisation's application, entered by a programme
// administrator on the applicant's behalf. An application that misses a
// prerequisite is recorded all the same, and flagged (UnmetPrerequisites).
// Callers: administrators. Errors: Forbidden, Invalid, Conflict (the
// organisation already takes part, or has an open application).
func (s *Service) Submit(ctx context.Context, p *authz.Principal, in ApplicationInput) (*Application, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	a := &Application{State: StateSubmitted}
	if err := in.apply(a); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	a.ID = ident.New()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.checkRefs(ctx, tx, a, ""); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO onboarding_applications (id, state, name, ods_code, organisation_type, size_band,
			contact_name, contact_email, provides_direct_care, dspt_status, hscn_connected, individual_email_accounts,
			email_domains, isa_level, routing, notes, submitted_by, submitted_at, updated_at, open_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.State, a.Name, a.ODSCode, a.OrganisationType, a.SizeBand, a.ContactName, a.ContactEmail,
			flag(a.ProvidesDirectCare), a.DSPTStatus, flag(a.HSCNConnected), flag(a.IndividualEmailAccounts),
			strings.Join(a.EmailDomains, ","), a.ISALevel, a.Routing, a.Notes, p.UserID, now.UnixMicro(), now.UnixMicro(), a.ODSCode)
		if store.IsUniqueViolation(err) {
			return openConflict(a.ODSCode)
		}
		if err != nil {
			return errs.Wrap(err, "insert application")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "onboarding.submit", "onboarding_application", a.ID, audit.Success,
			map[string]string{"ods_code": a.ODSCode, "name": a.Name, "size_band": a.SizeBand, "prerequisites": prereqSummary(a)}))
	})
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, a.ID)
}

// Update corrects a submitted application, for example once the
// organisation meets a prerequisite it missed. Callers: administrators.
// Errors: Forbidden, NotFound, Invalid, Conflict (no longer submitted; the
// organisation already takes part or has another open application).
func (s *Service) Update(ctx context.Context, p *authz.Principal, id string, in ApplicationInput) (*Application, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	next := &Application{}
	if err := in.apply(next); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.State != StateSubmitted {
			return refuse(cur, "changed")
		}
		if err := s.checkRefs(ctx, tx, next, id); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE onboarding_applications SET name = ?, ods_code = ?, organisation_type = ?, size_band = ?,
			contact_name = ?, contact_email = ?, provides_direct_care = ?, dspt_status = ?, hscn_connected = ?,
			individual_email_accounts = ?, email_domains = ?, isa_level = ?, routing = ?, notes = ?, updated_at = ?, open_key = ?
			WHERE id = ? AND state = ?`,
			next.Name, next.ODSCode, next.OrganisationType, next.SizeBand, next.ContactName, next.ContactEmail,
			flag(next.ProvidesDirectCare), next.DSPTStatus, flag(next.HSCNConnected), flag(next.IndividualEmailAccounts),
			strings.Join(next.EmailDomains, ","), next.ISALevel, next.Routing, next.Notes, s.clock.Now().UnixMicro(), next.ODSCode,
			id, StateSubmitted)
		if store.IsUniqueViolation(err) {
			return openConflict(next.ODSCode)
		}
		if err := changed(res, err, "update application"); err != nil {
			return s.refuseNow(ctx, tx, id, "changed", err)
		}
		d := diffApp(cur, next)
		d["prerequisites"] = prereqSummary(next)
		return s.log.Record(ctx, tx, audit.New(p.Who(), "onboarding.update", "onboarding_application", id, audit.Success, d))
	})
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, id)
}

// checkRefs checks what the input alone cannot: that the size band exists
// and that the organisation is not already a partner or another open
// application's subject (self is the application being changed).
func (s *Service) checkRefs(ctx context.Context, tx *store.Tx, a *Application, self string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM size_bands WHERE band = ?`, a.SizeBand).Scan(&n); err != nil {
		return errs.Wrap(err, "check size band")
	}
	if n == 0 {
		m := "Choose one of the size bands in the cost table"
		return &errs.Error{Code: errs.Invalid, Message: m, Fields: []errs.FieldError{{Field: "size_band", Message: m}}}
	}
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM organisations WHERE ods_code = ?`, a.ODSCode).Scan(&name)
	if err == nil {
		m := "ODS code " + a.ODSCode + " is already a partner organisation (" + name + ")"
		return &errs.Error{Code: errs.Conflict, Message: m, Fields: []errs.FieldError{{Field: "ods_code", Message: m}}}
	}
	if !store.IsNoRows(err) {
		return errs.Wrap(err, "check organisation")
	}
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM onboarding_applications WHERE open_key = ? AND id <> ?`, a.ODSCode, self).Scan(&n); err != nil {
		return errs.Wrap(err, "check open applications")
	}
	if n > 0 {
		return openConflict(a.ODSCode)
	}
	return nil
}

func openConflict(ods string) error {
	m := "There is already an open application for ODS code " + ods + ": correct that one, or reject it first"
	return &errs.Error{Code: errs.Conflict, Message: m, Fields: []errs.FieldError{{Field: "ods_code", Message: m}}}
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func prereqSummary(a *Application) string {
	if a.MeetsPrerequisites() {
		return "all met"
	}
	return strconv.Itoa(len(a.UnmetPrerequisites)) + " unmet: " + strings.Join(a.UnmetPrerequisites, "; ")
}

func diffApp(a, b *Application) map[string]string {
	d := map[string]string{}
	add := func(k, x, y string) {
		if x != y {
			d[k] = x + " -> " + y
		}
	}
	yn := func(v bool) string { return strconv.FormatBool(v) }
	add("name", a.Name, b.Name)
	add("ods_code", a.ODSCode, b.ODSCode)
	add("organisation_type", a.OrganisationType, b.OrganisationType)
	add("size_band", a.SizeBand, b.SizeBand)
	add("contact_name", a.ContactName, b.ContactName)
	add("contact_email", a.ContactEmail, b.ContactEmail)
	add("provides_direct_care", yn(a.ProvidesDirectCare), yn(b.ProvidesDirectCare))
	add("dspt_status", a.DSPTStatus, b.DSPTStatus)
	add("hscn_connected", yn(a.HSCNConnected), yn(b.HSCNConnected))
	add("individual_email_accounts", yn(a.IndividualEmailAccounts), yn(b.IndividualEmailAccounts))
	add("email_domains", strings.Join(a.EmailDomains, ","), strings.Join(b.EmailDomains, ","))
	add("isa_level", a.ISALevel, b.ISALevel)
	add("routing", a.Routing, b.Routing)
	if a.Notes != b.Notes {
		d["notes"] = "changed"
	}
	return d
}
