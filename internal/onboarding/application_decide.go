package onboarding

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// Approve records the IG steering group's approval. It is refused while a
// prerequisite is unmet. Callers: administrators. Errors: Forbidden,
// NotFound, Invalid (decision), Conflict (not submitted; prerequisite unmet).
func (s *Service) Approve(ctx context.Context, p *authz.Principal, id string, d Decision) (*Application, error) {
	return s.decide(ctx, p, id, d, StateApproved)
}

// Reject records the IG steering group's refusal; it is final (the
// organisation may apply again). Callers: administrators. Errors: Forbidden,
// NotFound, Invalid (decision), Conflict (not submitted).
func (s *Service) Reject(ctx context.Context, p *authz.Principal, id string, d Decision) (*Application, error) {
	return s.decide(ctx, p, id, d, StateRejected)
}

func (s *Service) decide(ctx context.Context, p *authz.Principal, id string, d Decision, to string) (*Application, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if err := d.check(now); err != nil {
		return nil, err
	}
	verb, action := "approved", "onboarding.approve"
	if to == StateRejected {
		verb, action = "rejected", "onboarding.reject"
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.State != StateSubmitted {
			return refuse(cur, verb)
		}
		if to == StateApproved && !cur.MeetsPrerequisites() {
			return errs.E(errs.Conflict, "This application cannot be approved while a prerequisite is unmet. %s. Correct the application once the organisation meets it, or reject it.",
				strings.Join(cur.UnmetPrerequisites, ". "))
		}
		// Approved applications stay open (the ODS code stays reserved
		// until go-live); a rejection closes the application.
		q := `UPDATE onboarding_applications SET state = ?, decided_by = ?, decided_at = ?, meeting_date = ?, minutes = ?, updated_at = ?`
		if to == StateRejected {
			q += `, open_key = NULL`
		}
		res, err := tx.Exec(ctx, q+` WHERE id = ? AND state = ?`, to, p.UserID, now.UnixMicro(), d.MeetingDate, d.Minutes, now.UnixMicro(),
			id, StateSubmitted)
		if err := changed(res, err, "decide application"); err != nil {
			return s.refuseNow(ctx, tx, id, verb, err)
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), action, "onboarding_application", id, audit.Success,
			map[string]string{"ods_code": cur.ODSCode, "meeting_date": d.MeetingDate, "minutes": d.Minutes}))
	})
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, id)
}

// GoLive makes an approved organisation a partner: it creates the
// organisation (with the application's ISA level, request routing and e-mail
// domains) in the same transaction as the application becomes live, so the
// two happen together or not at all. Calling it again on a live application
// changes nothing and returns it, so a retried request never creates a second
// organisation. Callers: administrators. Errors: Forbidden, NotFound,
// Conflict (not approved; the ODS code has become a partner meanwhile).
func (s *Service) GoLive(ctx context.Context, p *authz.Principal, id string) (*Application, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.State == StateLive {
			return nil
		}
		if cur.State != StateApproved {
			return refuse(cur, "taken live")
		}
		now := s.clock.Now()
		// Claim the application first: of two concurrent calls, the second
		// waits on this row (PostgreSQL) or on the write lock (SQLite) and
		// then finds it live, so only one creates the organisation.
		res, err := tx.Exec(ctx, `UPDATE onboarding_applications SET state = ?, live_by = ?, live_at = ?, updated_at = ?, open_key = NULL
			WHERE id = ? AND state = ?`, StateLive, p.UserID, now.UnixMicro(), now.UnixMicro(), id, StateApproved)
		if err := changed(res, err, "take application live"); err != nil {
			if errors.Is(err, errNotChanged) {
				if again, gerr := s.get(ctx, tx, id); gerr == nil && again.State == StateLive {
					return nil
				}
			}
			return s.refuseNow(ctx, tx, id, "taken live", err)
		}
		domains := cur.EmailDomains
		o, err := s.orgs.CreateOrganisationTx(ctx, tx, p, org.OrganisationInput{Name: &cur.Name, ODSCode: &cur.ODSCode,
			ISALevel: &cur.ISALevel, Routing: &cur.Routing, AllowedDomains: &domains})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE onboarding_applications SET organisation_id = ? WHERE id = ?`, o.ID, id); err != nil {
			return errs.Wrap(err, "link organisation")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "onboarding.go_live", "onboarding_application", id, audit.Success,
			map[string]string{"ods_code": cur.ODSCode, "organisation_id": o.ID, "isa_level": cur.ISALevel, "routing": cur.Routing}))
	})
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, id)
}

// refuse explains why an application in its current state cannot be what.
func refuse(a *Application, what string) error {
	why := map[string]string{
		StateSubmitted: "it is still waiting for the IG steering group's decision",
		StateApproved:  "it has already been approved",
		StateRejected:  "it has been rejected, which is final (the organisation may apply again)",
		StateLive:      "the organisation is already live",
	}[a.State]
	return errs.E(errs.Conflict, "This application cannot be %s: %s.", what, why)
}

// errNotChanged says a conditional UPDATE matched no row: someone changed the
// application's state between our read and our write.
var errNotChanged = errors.New("application changed meanwhile")

func changed(res sql.Result, err error, what string) error {
	if err != nil {
		return errs.Wrap(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Wrap(err, what)
	}
	if n == 0 {
		return errNotChanged
	}
	return nil
}

// refuseNow turns errNotChanged into the refusal the application's new
// state calls for; other errors pass through.
func (s *Service) refuseNow(ctx context.Context, tx *store.Tx, id, what string, err error) error {
	if !errors.Is(err, errNotChanged) {
		return err
	}
	cur, gerr := s.get(ctx, tx, id)
	if gerr != nil {
		return gerr
	}
	return refuse(cur, what)
}
