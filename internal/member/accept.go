package member

import (
	"context"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// byToken finds the invitation a link is for and refuses a link that no
// longer works, saying what to do instead.
func (s *Service) byToken(ctx context.Context, q store.Querier, token string) (*Invitation, error) {
	i, err := s.scanInvitation(q.QueryRow(ctx, `SELECT `+invitationColumns+invitationFrom+` WHERE i.token_hash = ?`, ident.Hash(token)))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "This invitation link does not work. If you were sent a newer invitation e-mail, use the link in that one; otherwise ask your site authoriser to invite you again.")
	}
	if err != nil {
		return nil, errs.Wrap(err, "read invitation")
	}
	switch i.Status {
	case InvitationAccepted:
		return nil, errs.E(errs.Conflict, "This invitation has already been accepted. Sign in with your e-mail address and password; if that is not you, ask your site authoriser to invite you again.")
	case InvitationCancelled:
		return nil, errs.E(errs.Conflict, "This invitation was cancelled by your site authoriser. If you still need access, ask them to invite you again.")
	case InvitationExpired:
		return nil, errs.E(errs.Conflict, "This invitation expired on %s: invitations last %d days. Ask your site authoriser to invite you again.",
			i.ExpiresAt.In(london).Format("2 January 2006"), int(s.cfg.InvitationValidFor.Hours()/24))
	}
	return i, nil
}

// Welcome says who invited the holder of a link to which site, and whether
// they already have an account. Callers: anyone with the link.
// Errors: NotFound (unknown or replaced link), Conflict (accepted,
// cancelled or expired), each with what to do next.
func (s *Service) Welcome(ctx context.Context, token string) (*Welcome, error) {
	i, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	w := &Welcome{Invitation: i, InvitedBy: i.CreatedByName}
	if err := s.db.QueryRow(ctx, `SELECT name FROM organisations WHERE id = ?`, i.OrganisationID).Scan(&w.Organisation); err != nil {
		return nil, errs.Wrap(err, "read organisation")
	}
	if u, err := s.users.UserByEmail(ctx, i.Email); err == nil {
		w.HasAccount = u.HasPassword()
	} else if errs.CodeOf(err) != errs.NotFound {
		return nil, err
	}
	return w, nil
}

// Acceptance is the result of accepting an invitation.
type Acceptance struct {
	UserID     string `json:"user_id"`
	Email      string `json:"email"`
	Site       string `json:"site"`
	NewAccount bool   `json:"new_account"` // they chose their password now
	Message    string `json:"message"`
	// The access request raised for them at once, when their training was
	// already complete (see Accept).
	RequestID  string `json:"request_id,omitempty"`
	RequestRef string `json:"request_ref,omitempty"`
}

// Accept accepts an invitation: the person joins the site with the job
// and record role the authoriser chose, and their training is assigned. A
// new person chooses their password here (then enrols MFA at their first
// sign-in); someone who already has an account (a member of another site,
// a returning leaver) joins with that account, keeping their training. If
// that training already meets the gate, the access they need at this site
// is requested in the same transaction: a new-user request if they have no
// record account (or a deleted one), new access if their account is held
// for another organisation, a reactivation if it is deactivated; none if
// their account already serves this organisation. The link is used up.
// Callers: anyone with the link. Errors: as Welcome, Invalid (password),
// Conflict (the account is disabled).
func (s *Service) Accept(ctx context.Context, who audit.Who, token, password, confirm string) (*Acceptance, error) {
	w, err := s.Welcome(ctx, token)
	if err != nil {
		return nil, err
	}
	i := w.Invitation
	hash := ""
	if !w.HasAccount {
		if password != confirm {
			return nil, &errs.Error{Code: errs.Invalid, Message: "The passwords do not match",
				Fields: []errs.FieldError{{Field: "password_confirm", Message: "Enter the same password twice"}}}
		}
		// The slow hash runs before the transaction.
		if hash, err = s.users.HashNewPassword(password, i.Email, i.GivenName, i.FamilyName); err != nil {
			return nil, err
		}
	}
	out := &Acceptance{Email: i.Email, Site: i.SiteName, NewAccount: !w.HasAccount}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var userID, status, pwHash string
		err := tx.QueryRow(ctx, `SELECT id, status, password_hash FROM users WHERE email = ?`, i.Email).Scan(&userID, &status, &pwHash)
		switch {
		case store.IsNoRows(err):
			if hash == "" {
				return errs.E(errs.Conflict, "Your account has changed since you opened this page: open the invitation link again")
			}
			u, err := s.users.CreateUserTx(ctx, tx, audit.Who{UserID: audit.SystemActor, Email: audit.SystemActor, IP: who.IP, UserAgent: who.UserAgent},
				auth.NewUser{Email: i.Email, GivenName: i.GivenName, FamilyName: i.FamilyName, PasswordHash: hash})
			if err != nil {
				return err
			}
			userID = u.ID
		case err != nil:
			return errs.Wrap(err, "find account")
		case status != auth.StatusActive:
			return errs.E(errs.Conflict, "Your CareGate account is disabled. Contact the programme team to have it enabled, then open this link again.")
		case pwHash == "" && hash != "":
			// Created by an access request before they chose a password.
			if err := s.users.SetPasswordHashTx(ctx, tx, audit.Who{UserID: userID, Email: i.Email, IP: who.IP, UserAgent: who.UserAgent}, userID, hash); err != nil {
				return err
			}
		case pwHash == "" || (pwHash != "" && hash != ""):
			return errs.E(errs.Conflict, "Your account has changed since you opened this page: open the invitation link again")
		}
		out.UserID = userID
		who.UserID, who.Email = userID, i.Email
		now := s.clock.Now().UnixMicro()
		res, err := tx.Exec(ctx, `UPDATE invitations SET status = 'accepted', open_key = NULL, closed_at = ?, closed_by = ?, user_id = ?, updated_at = ?
			WHERE id = ? AND status = 'pending' AND expires_at > ?`, now, userID, userID, now, i.ID, now)
		if err != nil {
			return errs.Wrap(err, "accept invitation")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.Conflict, "This invitation can no longer be accepted. Ask your site authoriser to invite you again.")
		}
		mid := ident.New()
		_, err = tx.Exec(ctx, `INSERT INTO memberships (id, site_id, user_id, job_title, job_category, status, joined_at, phone, record_role,
			finishing_date, invitation_id, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)`,
			mid, i.SiteID, userID, i.JobTitle, i.JobCategory, now, i.Phone, i.RecordRole, i.FinishingDate, i.ID, now)
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "You are already a member of %s (perhaps deactivated): ask your site authoriser to reactivate you", i.SiteName)
		}
		if err != nil {
			return errs.Wrap(err, "add membership")
		}
		if err := s.log.Record(ctx, tx, audit.New(who, "invitation.accept", "invitation", i.ID, audit.Success,
			map[string]string{"site_id": i.SiteID, "membership_id": mid, "new_account": boolText(!w.HasAccount)})); err != nil {
			return err
		}
		if err := s.log.Record(ctx, tx, audit.New(who, "membership.create", "membership", mid, audit.Success,
			map[string]string{"site_id": i.SiteID, "user_id": userID, "record_role": i.RecordRole, "job_category": i.JobCategory,
				"finishing_date": i.FinishingDate, "invitation_id": i.ID})); err != nil {
			return err
		}
		// Someone whose training is already complete (a member of another
		// site, a returning leaver) has their access for this site asked for
		// at once: a new-user request, new access at another organisation
		// than their record account's, or a reactivation of a deactivated
		// account (see training's gate), routed as this site's organisation
		// routes requests and audited in this transaction.
		g, err := s.training.RaiseIfReadyTx(ctx, tx, userID, mid)
		if err != nil {
			return err
		}
		if g != nil {
			out.Message = g.Message
			out.RequestID, out.RequestRef = g.RequestID, g.RequestRef
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
