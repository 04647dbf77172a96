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
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

const memberColumns = `m.id, m.site_id, m.user_id, u.given_name, u.family_name, u.email, m.phone, m.job_title, m.job_category, m.record_role,
	m.finishing_date, m.leaving_date, m.status, m.status_reason, m.joined_at, m.ended_at,
	EXISTS (SELECT 1 FROM site_authorisers sa WHERE sa.site_id = m.site_id AND sa.user_id = m.user_id),
	COALESCE((SELECT ra.status FROM record_accounts ra WHERE ra.user_id = m.user_id), ''),
	COALESCE((SELECT ra.organisation_id FROM record_accounts ra WHERE ra.user_id = m.user_id), '')`

const memberFrom = ` FROM memberships m JOIN users u ON u.id = m.user_id`

func scanMember(row interface{ Scan(...any) error }) (*Member, error) {
	var m Member
	var joined, ended int64
	var isAuth any
	if err := row.Scan(&m.ID, &m.SiteID, &m.UserID, &m.GivenName, &m.FamilyName, &m.Email, &m.Phone, &m.JobTitle, &m.JobCategory, &m.RecordRole,
		&m.FinishingDate, &m.LeavingDate, &m.Status, &m.StatusReason, &joined, &ended, &isAuth, &m.AccountStatus, &m.accountOrg); err != nil {
		return nil, err
	}
	m.JoinedAt = micros(joined)
	if ended != 0 {
		t := micros(ended)
		m.EndedAt = &t
	}
	switch v := isAuth.(type) {
	case bool:
		m.Authoriser = v
	case int64:
		m.Authoriser = v != 0
	}
	return &m, nil
}

// Members lists the place's site's current (active) members by name, with
// their training progress as completed / assigned and a mark on its
// authorisers. Callers: the site's authorisers and programme administrators
// (as Open). Errors: Unauthenticated.
func (s *Service) Members(ctx context.Context, pl *Place) ([]*Member, error) {
	out, err := s.list(ctx, pl, `m.status = 'active'`)
	if err != nil {
		return nil, err
	}
	progress, err := s.training.SiteProgress(ctx, pl.by, pl.site.ID)
	if err != nil {
		return nil, err
	}
	byUser := map[string]int{}
	for i, mp := range progress {
		byUser[mp.UserID] = i
	}
	for _, m := range out {
		if i, ok := byUser[m.UserID]; ok {
			m.Completed, m.Assigned = progress[i].Completed, progress[i].Assigned
		}
	}
	return out, nil
}

// History lists every membership the place's site has had, including
// deactivated and deleted ones, most recent first. Callers: as Members.
func (s *Service) History(ctx context.Context, pl *Place) ([]*Member, error) {
	return s.list(ctx, pl, "")
}

func (s *Service) list(ctx context.Context, pl *Place, cond string) ([]*Member, error) {
	if err := pl.read(); err != nil {
		return nil, err
	}
	siteID := pl.site.ID
	q := `SELECT ` + memberColumns + memberFrom + ` WHERE m.site_id = ?`
	order := ` ORDER BY m.joined_at DESC, m.id`
	if cond != "" {
		q += ` AND ` + cond
		order = ` ORDER BY u.family_name, u.given_name, u.email`
	}
	rows, err := s.db.Query(ctx, q+order, siteID)
	if err != nil {
		return nil, errs.Wrap(err, "list members")
	}
	defer rows.Close()
	out := []*Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan member")
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Member returns one membership of the place's site. Callers: as Members.
// Errors: as Members, NotFound (not a membership of this site).
func (s *Service) Member(ctx context.Context, pl *Place, id string) (*Member, error) {
	if err := pl.read(); err != nil {
		return nil, err
	}
	return s.loadMember(ctx, s.db, pl.site.ID, id)
}

func (s *Service) loadMember(ctx context.Context, q store.Querier, siteID, id string) (*Member, error) {
	m, err := scanMember(q.QueryRow(ctx, `SELECT `+memberColumns+memberFrom+` WHERE m.id = ? AND m.site_id = ?`, id, siteID))
	if store.IsNoRows(err) {
		// Someone else's site's member reads as absent from this site.
		return nil, errs.E(errs.NotFound, "This person is not a member of this site")
	}
	if err != nil {
		return nil, errs.Wrap(err, "read member")
	}
	return m, nil
}

// acting loads a membership of the place's site for an action by one of
// its authorisers; a removed member can no longer be changed.
func (s *Service) acting(ctx context.Context, tx *store.Tx, pl *Place, id string) (*Member, error) {
	if err := pl.manage(); err != nil {
		return nil, err
	}
	m, err := s.loadMember(ctx, tx, pl.site.ID, id)
	if err != nil {
		return nil, err
	}
	if m.Status == MembershipDeleted {
		return nil, errs.E(errs.Conflict, "%s was removed from this site: invite them again if they return", m.Name())
	}
	return m, nil
}

// otherActive reports whether the person has another active membership in
// the organisation, which keeps their record access.
func otherActive(ctx context.Context, q store.Querier, m *Member, orgID string) (string, error) {
	var name string
	err := q.QueryRow(ctx, `SELECT s.name FROM memberships o JOIN sites s ON s.id = o.site_id
		WHERE o.user_id = ? AND o.id <> ? AND o.status = 'active' AND s.organisation_id = ? ORDER BY s.name LIMIT 1`,
		m.UserID, m.ID, orgID).Scan(&name)
	if store.IsNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", errs.Wrap(err, "find other memberships")
	}
	return name, nil
}

// request raises a request for the back office about a member, by the
// authoriser, in the transaction of the membership change.
func (s *Service) request(ctx context.Context, tx *store.Tx, p *authz.Principal, m *Member, in access.Input) (*access.Request, error) {
	in.SiteID, in.Email, in.GivenName, in.FamilyName = m.SiteID, m.Email, m.GivenName, m.FamilyName
	in.JobTitle, in.Phone = m.JobTitle, m.Phone
	r, err := s.access.RaiseTx(ctx, tx, p, in)
	if err != nil {
		if e := errs.As(err); e.Code == errs.Conflict {
			return nil, errs.E(errs.Conflict, "The request for the back office could not be raised, so nothing was changed: %s", e.Message)
		}
		return nil, err
	}
	return r, nil
}

// heldElsewhere reports whether the member has a record account (not
// deleted) held for another organisation than orgID: they joined a site of
// it since, and their record access is now that organisation's to end.
func heldElsewhere(m *Member, orgID string) bool {
	return m.AccountStatus != "" && m.AccountStatus != access.AccountDeleted && m.accountOrg != orgID
}

// withdraw cancels the person's open new-user request for the site's
// organisation (raised when their training was complete), so that the back
// office does not set up an account for someone no longer at the site.
func (s *Service) withdraw(ctx context.Context, tx *store.Tx, p *authz.Principal, pl *Place, m *Member, reason string, out *Outcome) error {
	r, err := s.access.WithdrawNewUserTx(ctx, tx, p, m.Email, pl.org.ID, reason)
	if err != nil {
		if e := errs.As(err); e.Code == errs.Conflict {
			return errs.E(errs.Conflict, "Nothing was changed: %s Ask the back office to stop setting up their account.", e.Message)
		}
		return err
	}
	if r != nil {
		out.RequestID, out.RequestRef = r.ID, r.Ref
		out.Message += " Their access request " + r.Ref + " has been cancelled."
	}
	return nil
}

// end marks a membership deactivated or deleted and audits it.
func (s *Service) end(ctx context.Context, tx *store.Tx, p *authz.Principal, m *Member, status, reason, leaving string) error {
	now := s.clock.Now().UnixMicro()
	if _, err := tx.Exec(ctx, `UPDATE memberships SET status = ?, status_reason = ?, leaving_date = ?, ended_at = ?, ended_by = ?, updated_at = ?
		WHERE id = ?`, status, reason, leaving, now, p.UserID, now, m.ID); err != nil {
		return errs.Wrap(err, "change membership")
	}
	action := "membership.deactivate"
	if status == MembershipDeleted {
		action = "membership.remove"
	}
	d := map[string]string{"site_id": m.SiteID, "user_id": m.UserID, "reason": reason}
	if leaving != "" {
		d["leaving_date"] = leaving
	}
	return s.log.Record(ctx, tx, audit.New(p.Who(), action, "membership", m.ID, audit.Success, d))
}

// Deactivate deactivates a member of the place's site (maternity leave,
// long-term sickness, other) and raises a deactivation request so the back
// office deactivates their record account; someone who stays an active
// member of another site of the organisation, or whose account is held for
// another organisation, keeps their record access. A deactivated member can
// still sign in to the portal and train. Callers: the site's authorisers.
// Errors: Unauthenticated, Forbidden (not one of its authorisers), NotFound
// (not its member), Invalid (reason), Conflict (site closed, not active, or
// a request that cannot be raised).
func (s *Service) Deactivate(ctx context.Context, pl *Place, id, reason, notes string) (*Outcome, error) {
	return s.change(ctx, pl, id, func(tx *store.Tx, p *authz.Principal, m *Member, out *Outcome) error {
		if !slices.Contains(DeactivationReasons, reason) {
			return &errs.Error{Code: errs.Invalid, Message: "Choose why they are being deactivated",
				Fields: []errs.FieldError{{Field: "reason", Message: "Choose why they are being deactivated: maternity leave, long-term sickness or other"}}}
		}
		var v errs.Validation
		notes = v.Text("notes", "Notes", notes, reason == "other", 500)
		if err := v.Err(); err != nil {
			return err
		}
		if m.Status != MembershipActive {
			return errs.E(errs.Conflict, "%s is already deactivated", m.Name())
		}
		if err := s.end(ctx, tx, p, m, MembershipDeactivated, reason, ""); err != nil {
			return err
		}
		out.Message = m.Name() + " has been deactivated. They can still sign in to the portal and train."
		other, err := otherActive(ctx, tx, m, pl.org.ID)
		if err != nil || other != "" {
			if other != "" {
				out.Message += " They remain a member of " + other + ", so their record access continues."
			}
			return err
		}
		if heldElsewhere(m, pl.org.ID) {
			out.Message += " Their record account is now held for another organisation they have joined, so it is not changed."
			return nil
		}
		if m.AccountStatus != access.AccountActive && m.AccountStatus != access.AccountPending {
			return s.withdraw(ctx, tx, p, pl, m, "Deactivated by their site authoriser before the account was set up", out)
		}
		r, err := s.request(ctx, tx, p, m, access.Input{Type: access.TypeDeactivation, Reason: reason, Notes: notes})
		if err != nil {
			return err
		}
		out.RequestID, out.RequestRef = r.ID, r.Ref
		out.Message += " Request " + r.Ref + " asks the back office to deactivate their record account."
		return nil
	})
}

// Remove removes a member permanently (a leaver, with their leaving date)
// and raises a deletion request for their record account, unless they stay
// an active member of another site of the organisation. The membership
// stays in the history. Callers: the site's authorisers. Errors: as
// Deactivate, Invalid (leaving date).
func (s *Service) Remove(ctx context.Context, pl *Place, id, leaving, notes string) (*Outcome, error) {
	return s.change(ctx, pl, id, func(tx *store.Tx, p *authz.Principal, m *Member, out *Outcome) error {
		var v errs.Validation
		leaving = strings.TrimSpace(leaving)
		if leaving == "" {
			v.Add("leaving_date", "Enter their leaving date, like 2027-03-31")
		} else if _, err := time.ParseInLocation("2006-01-02", leaving, london); err != nil {
			v.Add("leaving_date", "The leaving date must be a real date, like 2027-03-31")
		}
		notes = v.Text("notes", "Notes", notes, false, 500)
		if err := v.Err(); err != nil {
			return err
		}
		if err := s.end(ctx, tx, p, m, MembershipDeleted, access.ReasonLeaver, leaving); err != nil {
			return err
		}
		out.Message = m.Name() + " has been removed from " + pl.site.Name + "."
		other, err := otherActive(ctx, tx, m, pl.org.ID)
		if err != nil || other != "" {
			if other != "" {
				out.Message += " They remain a member of " + other + ", so their record access continues."
			}
			return err
		}
		if heldElsewhere(m, pl.org.ID) {
			out.Message += " Their record account is now held for another organisation they have joined, so it is not removed."
			return nil
		}
		if m.AccountStatus == "" || m.AccountStatus == access.AccountDeleted {
			return s.withdraw(ctx, tx, p, pl, m, "Removed by their site authoriser (a leaver) before the account was set up", out)
		}
		r, err := s.request(ctx, tx, p, m, access.Input{Type: access.TypeDeletion, Reason: access.ReasonLeaver, LeavingDate: leaving, Notes: notes})
		if err != nil {
			return err
		}
		out.RequestID, out.RequestRef = r.ID, r.Ref
		out.Message += " Request " + r.Ref + " asks the back office to remove their record account."
		return nil
	})
}

// Attestations are the authoriser's confirmations for giving record
// access again.
type Attestations struct {
	DirectCare bool `json:"attest_direct_care"`
	ToldMisuse bool `json:"attest_told_misuse"`
	IGTraining bool `json:"attest_ig_training"`
	// FinishingDate is a new finishing date for a temporary member; needed
	// when theirs has passed.
	FinishingDate string `json:"finishing_date,omitempty"`
}

// Reactivate makes a deactivated member active again, from the membership
// history, and raises a reactivation request for their record account.
// Their completed training is kept: no retraining. Someone who never had a
// record account has their access requested if their training is complete.
// Callers: the site's authorisers. Errors: as Deactivate, Invalid
// (attestations), Conflict (not deactivated).
func (s *Service) Reactivate(ctx context.Context, pl *Place, id string, at Attestations) (*Outcome, error) {
	return s.change(ctx, pl, id, func(tx *store.Tx, p *authz.Principal, m *Member, out *Outcome) error {
		// A member is reactivated when their membership was deactivated, or
		// when a rule (inactivity, finishing date) deactivated their record
		// account while the membership stayed.
		if m.Status != MembershipDeactivated {
			if m.AccountStatus != access.AccountDeactivated {
				return errs.E(errs.Conflict, "%s is not deactivated", m.Name())
			}
			open, err := s.access.HasOpenRequest(ctx, tx, m.UserID, m.Email)
			if err != nil {
				return err
			}
			if open {
				return errs.E(errs.Conflict, "%s is not deactivated here, and a request about their record account is already open", m.Name())
			}
		}
		var v errs.Validation
		access.CheckAttestations(&v, at.DirectCare, at.ToldMisuse, at.IGTraining)
		// A temporary member whose finishing date has passed comes back only
		// with a new one: the old date would end their access again.
		finish := m.FinishingDate
		if d := s.futureDate(&v, "finishing_date", "The new finishing date", at.FinishingDate); d != "" {
			finish = d
		} else if finish != "" && finish < s.today().Format(time.DateOnly) {
			v.Add("finishing_date", "Their finishing date, %s, has passed: give a new finishing date", finish)
		}
		if err := v.Err(); err != nil {
			return err
		}
		now := s.clock.Now().UnixMicro()
		if _, err := tx.Exec(ctx, `UPDATE memberships SET status = 'active', status_reason = '', ended_at = 0, ended_by = '', finishing_date = ?,
			updated_at = ? WHERE id = ?`, finish, now, m.ID); err != nil {
			return errs.Wrap(err, "reactivate membership")
		}
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "membership.reactivate", "membership", m.ID, audit.Success,
			map[string]string{"site_id": m.SiteID, "user_id": m.UserID, "finishing_date": finish})); err != nil {
			return err
		}
		out.Message = m.Name() + " is an active member again; their completed training is kept."
		switch m.AccountStatus {
		case access.AccountDeactivated:
			r, err := s.request(ctx, tx, p, m, access.Input{Type: access.TypeReactivation, Role: m.RecordRole, FinishingDate: finish,
				AttestDirectCare: at.DirectCare, AttestToldMisuse: at.ToldMisuse, AttestIGTraining: at.IGTraining})
			if err != nil {
				return err
			}
			out.RequestID, out.RequestRef = r.ID, r.Ref
			out.Message += " Request " + r.Ref + " asks the back office to reactivate their record account."
		case "", access.AccountDeleted:
			g, err := s.training.RaiseIfReadyTx(ctx, tx, m.UserID, m.ID)
			if err != nil {
				return err
			}
			if g != nil && g.Raised {
				out.RequestID, out.RequestRef = g.RequestID, g.RequestRef
				out.Message += " Their training is complete, so request " + g.RequestRef + " asks for their record access."
			}
		}
		return nil
	})
}

// change runs a member action of whoever opened the place in one
// transaction and returns the member as it is afterwards.
func (s *Service) change(ctx context.Context, pl *Place, id string, fn func(*store.Tx, *authz.Principal, *Member, *Outcome) error) (*Outcome, error) {
	out := &Outcome{}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := s.acting(ctx, tx, pl, id)
		if err != nil {
			return err
		}
		return fn(tx, pl.by, m, out)
	})
	if err != nil {
		return nil, err
	}
	if out.Member, err = s.loadMember(ctx, s.db, pl.site.ID, id); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateMember edits a member's details. Names, contact number, job and
// finishing date change at once (a finishing date also on their record
// account: the authoriser extends a temporary member's access here). A new
// e-mail address raises an amendment request so the record account is
// updated too; the address changes when the back office completes it. For
// someone without a record account it changes at once. Callers: the site's
// authorisers. Errors: as Deactivate, Invalid, Conflict (address in use).
func (s *Service) UpdateMember(ctx context.Context, pl *Place, id string, e MemberEdit) (*Outcome, error) {
	return s.change(ctx, pl, id, func(tx *store.Tx, p *authz.Principal, m *Member, out *Outcome) error {
		var v errs.Validation
		given := v.Text("given_name", "Forename", orDefault(e.GivenName, m.GivenName), true, 100)
		family := v.Text("family_name", "Surname", orDefault(e.FamilyName, m.FamilyName), true, 100)
		ph := phone(&v, orDefault(e.Phone, m.Phone), false)
		job := v.Text("job_title", "Job title", orDefault(e.JobTitle, m.JobTitle), true, 100)
		cat := m.JobCategory
		if c := strings.TrimSpace(e.JobCategory); c != "" {
			if i := slices.IndexFunc(JobCategories, func(x string) bool { return strings.EqualFold(x, c) }); i >= 0 {
				cat = JobCategories[i]
			} else {
				v.Add("job_category", "Choose a job category from the list")
			}
		}
		finish := m.FinishingDate
		if e.ClearFinishing {
			finish = ""
		} else if strings.TrimSpace(e.FinishingDate) != "" && strings.TrimSpace(e.FinishingDate) != m.FinishingDate {
			finish = s.futureDate(&v, "finishing_date", "The finishing date", e.FinishingDate)
		}
		email := m.Email
		if strings.TrimSpace(e.Email) != "" {
			ne, ok := auth.NormaliseEmail(e.Email)
			switch {
			case !ok:
				v.Add("email", "Enter an e-mail address in the correct format, like name@nhs.net")
			case !pl.org.AllowsEmail(ne):
				v.Add("email", "The e-mail address must be on one of %s's allowed domains: %s", pl.org.Name, strings.Join(pl.org.AllowedDomains, ", "))
			}
			email = ne
		}
		if err := v.Err(); err != nil {
			return err
		}
		now := s.clock.Now().UnixMicro()
		changed := map[string]string{}
		if given != m.GivenName || family != m.FamilyName {
			if _, err := tx.Exec(ctx, `UPDATE users SET given_name = ?, family_name = ?, updated_at = ? WHERE id = ?`, given, family, now, m.UserID); err != nil {
				return errs.Wrap(err, "change name")
			}
			changed["given_name"], changed["family_name"] = given, family
		}
		if ph != m.Phone || job != m.JobTitle || cat != m.JobCategory || finish != m.FinishingDate {
			if _, err := tx.Exec(ctx, `UPDATE memberships SET phone = ?, job_title = ?, job_category = ?, finishing_date = ?, updated_at = ? WHERE id = ?`,
				ph, job, cat, finish, now, m.ID); err != nil {
				return errs.Wrap(err, "change membership")
			}
			for k, f := range map[string][2]string{"phone": {m.Phone, ph}, "job_title": {m.JobTitle, job}, "job_category": {m.JobCategory, cat},
				"finishing_date": {m.FinishingDate, finish}} {
				if f[0] != f[1] {
					changed[k] = f[1]
				}
			}
		}
		hasAccount := m.AccountStatus != "" && m.AccountStatus != access.AccountDeleted
		if finish != m.FinishingDate && hasAccount {
			if _, err := tx.Exec(ctx, `UPDATE record_accounts SET finishing_date = ?, updated_at = ? WHERE user_id = ?`, finish, now, m.UserID); err != nil {
				return errs.Wrap(err, "change finishing date")
			}
			if err := s.log.Record(ctx, tx, audit.New(p.Who(), "record_account.finishing_date", "user", m.UserID, audit.Success,
				map[string]string{"finishing_date": finish, "membership_id": m.ID})); err != nil {
				return err
			}
		}
		out.Message = m.Name() + "'s details have been saved."
		if email != m.Email {
			if hasAccount {
				r, err := s.request(ctx, tx, p, &Member{SiteID: m.SiteID, Email: m.Email, GivenName: given, FamilyName: family, JobTitle: job, Phone: ph},
					access.Input{Type: access.TypeAmendment, NewEmail: email})
				if err != nil {
					return err
				}
				out.RequestID, out.RequestRef = r.ID, r.Ref
				out.Message += " Request " + r.Ref + " asks the back office to change their e-mail address to " + email + " on their record account too; it changes when the request is completed."
				changed["requested_email"] = email
			} else {
				// The address is their sign-in everywhere: one site's
				// authoriser may change it only for someone who is nobody
				// else's member.
				var elsewhere string
				err := tx.QueryRow(ctx, `SELECT COALESCE(MIN(s.name), '') FROM memberships o JOIN sites s ON s.id = o.site_id
					WHERE o.user_id = ? AND o.id <> ? AND o.status <> 'deleted'`, m.UserID, m.ID).Scan(&elsewhere)
				if err != nil {
					return errs.Wrap(err, "find other memberships")
				}
				if elsewhere != "" {
					return fieldConflict("email", m.Name()+" is also a member of "+elsewhere+
						", and their e-mail address is how they sign in there too: ask the programme team to change it")
				}
				_, err = tx.Exec(ctx, `UPDATE users SET email = ?, updated_at = ? WHERE id = ?`, email, now, m.UserID)
				if store.IsUniqueViolation(err) {
					return fieldConflict("email", "Another account already uses "+email)
				}
				if err != nil {
					return errs.Wrap(err, "change e-mail")
				}
				changed["email"] = email
			}
		}
		if len(changed) == 0 {
			out.Message = "Nothing was changed."
			return nil
		}
		changed["site_id"] = m.SiteID
		return s.log.Record(ctx, tx, audit.New(p.Who(), "membership.update", "membership", m.ID, audit.Success, changed))
	})
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
