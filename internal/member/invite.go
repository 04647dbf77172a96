package member

import (
	"context"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// KindInvitation is the message kind of an invitation e-mail.
const KindInvitation = notify.KindInvitation

const invitationColumns = `i.id, i.site_id, s.name, i.organisation_id, i.given_name, i.family_name, i.email, i.phone, i.job_title,
	i.job_category, i.record_role, i.finishing_date, i.ig_confirmed, i.status, i.created_by, COALESCE(u.given_name || ' ' || u.family_name, ''),
	i.created_at, i.expires_at, i.sent_at, i.send_count, i.closed_at, i.closed_by, i.user_id, i.intake_id`

const invitationFrom = ` FROM invitations i JOIN sites s ON s.id = i.site_id LEFT JOIN users u ON u.id = i.created_by`

func micros(t int64) time.Time { return time.UnixMicro(t).UTC() }

// scanInvitation reads a row of invitationColumns. A pending invitation
// past its expiry reads as expired even before the expiry job has run.
func (s *Service) scanInvitation(row interface{ Scan(...any) error }) (*Invitation, error) {
	var i Invitation
	var ig int
	var created, expires, sent, closed int64
	if err := row.Scan(&i.ID, &i.SiteID, &i.SiteName, &i.OrganisationID, &i.GivenName, &i.FamilyName, &i.Email, &i.Phone, &i.JobTitle,
		&i.JobCategory, &i.RecordRole, &i.FinishingDate, &ig, &i.Status, &i.CreatedBy, &i.CreatedByName,
		&created, &expires, &sent, &i.SendCount, &closed, &i.ClosedBy, &i.UserID, &i.IntakeID); err != nil {
		return nil, err
	}
	i.IGConfirmed = ig == 1
	i.CreatedAt, i.ExpiresAt, i.SentAt = micros(created), micros(expires), micros(sent)
	if closed != 0 {
		t := micros(closed)
		i.ClosedAt = &t
	}
	if i.Status == InvitationPending && !s.clock.Now().Before(i.ExpiresAt) {
		i.Status = InvitationExpired
		i.ClosedAt = &i.ExpiresAt
	}
	return &i, nil
}

func (s *Service) loadInvitation(ctx context.Context, q store.Querier, id string) (*Invitation, error) {
	i, err := s.scanInvitation(q.QueryRow(ctx, `SELECT `+invitationColumns+invitationFrom+` WHERE i.id = ?`, id))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "There is no such invitation")
	}
	if err != nil {
		return nil, errs.Wrap(err, "read invitation")
	}
	return i, nil
}

// Invite creates an invitation to the place's site and e-mails its
// single-use link. Callers: the site's authorisers. Errors:
// Unauthenticated, Forbidden, Invalid, Conflict (already a member or
// already invited; site closed).
func (s *Service) Invite(ctx context.Context, pl *Place, in InvitationInput) (*Invitation, error) {
	if err := pl.manage(); err != nil {
		return nil, err
	}
	if err := s.check(&in, pl.org); err != nil {
		return nil, err
	}
	var id string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = s.inviteTx(ctx, tx, pl.by, pl, in, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.loadInvitation(ctx, s.db, id)
}

// openKey is what makes two pending invitations duplicates.
func openKey(siteID, email string) string { return siteID + ":" + email }

// refuseDuplicate says why a person cannot be invited to a site: they are
// already a member (active or deactivated), or already invited. It returns
// nil when they may be. The field errors name "email".
func refuseDuplicate(ctx context.Context, q store.Querier, siteID, email string) error {
	var status string
	err := q.QueryRow(ctx, `SELECT m.status FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.site_id = ? AND u.email = ? AND m.status <> 'deleted'`, siteID, email).Scan(&status)
	switch {
	case err == nil && status == MembershipActive:
		return fieldConflict("email", email+" is already a member of this site")
	case err == nil:
		return fieldConflict("email", email+" is a deactivated member of this site: reactivate them from the membership history instead")
	case !store.IsNoRows(err):
		return errs.Wrap(err, "find membership")
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM invitations WHERE open_key = ?`, openKey(siteID, email)).Scan(&n); err != nil {
		return errs.Wrap(err, "find invitation")
	}
	if n > 0 {
		return fieldConflict("email", email+" has already been invited to this site: resend or edit the pending invitation")
	}
	return nil
}

func fieldConflict(field, msg string) error {
	return &errs.Error{Code: errs.Conflict, Message: msg, Fields: []errs.FieldError{{Field: field, Message: msg}}}
}

// RuleInvitationExpiry names the invitation expiry rule in audit events.
const RuleInvitationExpiry = "invitation_expiry"

// expireDueTx closes the site's pending invitations whose expiry has come
// and that the hourly sweep (package lifecycle) has not reached yet, as the
// sweep would: otherwise such an invitation, expired to everyone who reads
// it, would still count as pending and block inviting the person again.
func (s *Service) expireDueTx(ctx context.Context, tx *store.Tx, siteID string) error {
	now := s.clock.Now().UnixMicro()
	rows, err := tx.Query(ctx, `UPDATE invitations SET status = 'expired', open_key = NULL, closed_at = ?, closed_by = '', updated_at = ?
		WHERE site_id = ? AND status = 'pending' AND expires_at <= ? RETURNING id, expires_at`, now, now, siteID, now)
	if err != nil {
		return errs.Wrap(err, "expire invitations")
	}
	type expired struct {
		id      string
		expires int64
	}
	var list []expired
	for rows.Next() {
		var e expired
		if err := rows.Scan(&e.id, &e.expires); err != nil {
			rows.Close()
			return errs.Wrap(err, "expire invitations")
		}
		list = append(list, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, "expire invitations")
	}
	for _, e := range list {
		if err := s.log.Record(ctx, tx, audit.New(audit.System, "invitation.expire", "invitation", e.id, audit.Success,
			map[string]string{"rule": RuleInvitationExpiry, "site_id": siteID, "expires_at": micros(e.expires).Format(time.RFC3339)})); err != nil {
			return err
		}
	}
	return nil
}

// inviteTx checks for duplicates, stores the invitation, queues its e-mail
// and audits it. The input is already checked.
func (s *Service) inviteTx(ctx context.Context, tx *store.Tx, p *authz.Principal, pl *Place, in InvitationInput, intakeID string) (string, error) {
	if err := s.expireDueTx(ctx, tx, pl.site.ID); err != nil {
		return "", err
	}
	if err := refuseDuplicate(ctx, tx, pl.site.ID, in.Email); err != nil {
		return "", err
	}
	ids, err := s.insertInvitations(ctx, tx, p, pl, []InvitationInput{in}, intakeID)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// insertInvitations stores checked invitations that are not duplicates, in
// multi-row statements, with their audit events and e-mails. A duplicate
// that slipped in since the check is refused by the open_key index, and the
// caller's transaction fails whole.
func (s *Service) insertInvitations(ctx context.Context, tx *store.Tx, p *authz.Principal, pl *Place, ins []InvitationInput, intakeID string) ([]string, error) {
	const cols = 21
	// SQLite takes 40 rows a statement (840 parameters, below its limit);
	// PostgreSQL, where every statement is a round trip, one array a column
	// for up to 5,000 rows.
	pg := tx.Dialect() == store.Postgres
	chunk := 40
	if pg {
		chunk = 5000
	}
	now := s.clock.Now()
	expires := now.Add(s.cfg.InvitationValidFor)
	ids := make([]string, len(ins))
	mails := make([]notify.Message, len(ins))
	for start := 0; start < len(ins); start += chunk {
		part := ins[start:min(start+chunk, len(ins))]
		args := make([]any, 0, len(part)*cols)
		for j, in := range part {
			id, token := ident.New(), ident.Secret("")
			ids[start+j] = id
			args = append(args, id, pl.site.ID, pl.org.ID, in.GivenName, in.FamilyName, in.Email, in.Phone, in.JobTitle, in.JobCategory,
				in.RecordRole, in.FinishingDate, 1, ident.Hash(token), InvitationPending, openKey(pl.site.ID, in.Email), intakeID,
				p.UserID, now.UnixMicro(), expires.UnixMicro(), now.UnixMicro(), now.UnixMicro())
			mails[start+j] = s.invitationMail(p, pl, id, in.GivenName+" "+in.FamilyName, in.Email, token, expires)
		}
		q := `INSERT INTO invitations (id, site_id, organisation_id, given_name, family_name, email, phone, job_title, job_category,
			record_role, finishing_date, ig_confirmed, token_hash, status, open_key, intake_id, created_by, created_at, expires_at, sent_at, updated_at) `
		if pg {
			q += `SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
				?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])`
			args = store.Columns(args, cols)
		} else {
			row := "(" + strings.Repeat("?, ", cols-1) + "?)"
			q += `VALUES ` + row + strings.Repeat(", "+row, len(part)-1)
		}
		_, err := tx.Exec(ctx, q, args...)
		if store.IsUniqueViolation(err) {
			if len(ins) == 1 {
				return nil, fieldConflict("email", ins[0].Email+" has already been invited to this site: resend or edit the pending invitation")
			}
			return nil, errs.E(errs.Conflict, "Someone in the file was invited to this site while it was being confirmed: upload the file again")
		}
		if err != nil {
			return nil, errs.Wrap(err, "insert invitations")
		}
	}
	for i, in := range ins {
		detail := map[string]string{"site_id": pl.site.ID, "email": in.Email, "record_role": in.RecordRole, "job_category": in.JobCategory,
			"ig_confirmed": "true"}
		if in.FinishingDate != "" {
			detail["finishing_date"] = in.FinishingDate
		}
		if intakeID != "" {
			detail["intake_id"] = intakeID
		}
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "invitation.create", "invitation", ids[i], audit.Success, detail)); err != nil {
			return nil, err
		}
	}
	if _, err := s.outbox.EnqueueMany(ctx, tx, mails); err != nil {
		return nil, errs.Wrap(err, "queue invitation e-mails")
	}
	return ids, nil
}

// invitationMail is the invitation e-mail. It carries the link, a secret,
// so it is sensitive: its body is erased once sent.
func (s *Service) invitationMail(p *authz.Principal, pl *Place, id, name, email, token string, expires time.Time) notify.Message {
	return notify.Message{To: email, Kind: KindInvitation, Sensitive: true, RelatedType: "invitation", RelatedID: id,
		Data: map[string]string{
			"Name": name, "InvitedBy": p.Name, "Site": pl.site.Name, "Organisation": pl.org.Name,
			"Link": s.link("/invitations/" + token), "Expires": expires.In(london).Format("2 January 2006"),
		}}
}

// mailInvitation queues the invitation e-mail.
func (s *Service) mailInvitation(ctx context.Context, tx *store.Tx, p *authz.Principal, pl *Place, id, name, email, token string, expires time.Time) error {
	if _, err := s.outbox.Enqueue(ctx, tx, s.invitationMail(p, pl, id, name, email, token, expires)); err != nil {
		return errs.Wrap(err, "queue invitation e-mail")
	}
	return nil
}

// Invitations lists the place's site's invitations, newest first: only
// those still pending, or (all) the whole history including accepted,
// cancelled and expired ones. Callers: the site's authorisers and programme
// administrators (as Open). Errors: Unauthenticated.
func (s *Service) Invitations(ctx context.Context, pl *Place, all bool) ([]*Invitation, error) {
	if err := pl.read(); err != nil {
		return nil, err
	}
	q := `SELECT ` + invitationColumns + invitationFrom + ` WHERE i.site_id = ?`
	args := []any{pl.site.ID}
	if !all {
		q += ` AND i.status = 'pending' AND i.expires_at > ?`
		args = append(args, s.clock.Now().UnixMicro())
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY i.created_at DESC, i.id`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "list invitations")
	}
	defer rows.Close()
	out := []*Invitation{}
	for rows.Next() {
		i, err := s.scanInvitation(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan invitation")
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Invitation returns one invitation of the place's site. Callers: as
// Invitations. Errors: Unauthenticated, NotFound (none, or another site's).
func (s *Service) Invitation(ctx context.Context, pl *Place, id string) (*Invitation, error) {
	if err := pl.read(); err != nil {
		return nil, err
	}
	return s.siteInvitation(ctx, s.db, pl, id)
}

// siteInvitation loads an invitation of the place's site: another site's
// reads as absent.
func (s *Service) siteInvitation(ctx context.Context, q store.Querier, pl *Place, id string) (*Invitation, error) {
	i, err := s.loadInvitation(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if i.SiteID != pl.site.ID {
		return nil, errs.E(errs.NotFound, "There is no such invitation for this site")
	}
	return i, nil
}

// OpenInvitation returns an invitation and opens its site (as Open), for
// callers that name only the invitation (the API's /invitations/{id}).
// Errors: as Open, NotFound.
func (s *Service) OpenInvitation(ctx context.Context, p *authz.Principal, id string) (*Invitation, *Place, error) {
	if p == nil {
		return nil, nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	i, err := s.loadInvitation(ctx, s.db, id)
	if err != nil {
		return nil, nil, err
	}
	pl, err := s.Open(ctx, p, i.SiteID)
	if err != nil {
		return nil, nil, err
	}
	return i, pl, nil
}

// pending loads an invitation of the place's site for a change by one of
// its authorisers; it must still be pending. Errors: as manage, NotFound,
// and Conflict (accepted, cancelled or expired).
func (s *Service) pending(ctx context.Context, tx *store.Tx, pl *Place, id string) (*Invitation, error) {
	if err := pl.manage(); err != nil {
		return nil, err
	}
	i, err := s.siteInvitation(ctx, tx, pl, id)
	if err != nil {
		return nil, err
	}
	switch i.Status {
	case InvitationAccepted:
		return nil, errs.E(errs.Conflict, "This invitation has already been accepted: %s is a member", i.Name())
	case InvitationCancelled:
		return nil, errs.E(errs.Conflict, "This invitation was cancelled")
	case InvitationExpired:
		return nil, errs.E(errs.Conflict, "This invitation expired on %s: invite %s again", i.ExpiresAt.In(london).Format("2 January 2006"), i.Name())
	}
	return i, nil
}

// Resend e-mails a pending invitation of the place's site again with a new
// link (the old link stops working); the expiry stays the same. Callers:
// the site's authorisers. Errors: as Invite, NotFound, Conflict (no longer
// pending).
func (s *Service) Resend(ctx context.Context, pl *Place, id string) (*Invitation, error) {
	p := pl.principal()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		i, err := s.pending(ctx, tx, pl, id)
		if err != nil {
			return err
		}
		token := ident.Secret("")
		now := s.clock.Now().UnixMicro()
		res, err := tx.Exec(ctx, `UPDATE invitations SET token_hash = ?, sent_at = ?, send_count = send_count + 1, updated_at = ?
			WHERE id = ? AND status = 'pending'`, ident.Hash(token), now, now, id)
		if err != nil {
			return errs.Wrap(err, "resend invitation")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.Conflict, "This invitation is no longer pending")
		}
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "invitation.resend", "invitation", id, audit.Success,
			map[string]string{"site_id": i.SiteID, "email": i.Email, "expires_at": i.ExpiresAt.Format(time.RFC3339)})); err != nil {
			return err
		}
		return s.mailInvitation(ctx, tx, p, pl, id, i.Name(), i.Email, token, i.ExpiresAt)
	})
	if err != nil {
		return nil, err
	}
	return s.loadInvitation(ctx, s.db, id)
}

// UpdateInvitation corrects the details of a pending invitation of the
// place's site. A changed e-mail address gets a new link (the old one stops
// working) sent to the new address; the expiry stays the same. Callers: the
// site's authorisers. Errors: as Resend.
func (s *Service) UpdateInvitation(ctx context.Context, pl *Place, id string, in InvitationInput) (*Invitation, error) {
	p := pl.principal()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		i, err := s.pending(ctx, tx, pl, id)
		if err != nil {
			return err
		}
		if err := s.check(&in, pl.org); err != nil {
			return err
		}
		changed := diffInvitation(i, &in)
		if len(changed) == 0 {
			return nil
		}
		now := s.clock.Now().UnixMicro()
		token := ""
		q := `UPDATE invitations SET given_name = ?, family_name = ?, email = ?, phone = ?, job_title = ?, job_category = ?, record_role = ?,
			finishing_date = ?, open_key = ?, updated_at = ?`
		args := []any{in.GivenName, in.FamilyName, in.Email, in.Phone, in.JobTitle, in.JobCategory, in.RecordRole, in.FinishingDate,
			openKey(i.SiteID, in.Email), now}
		if in.Email != i.Email {
			if err := refuseDuplicate(ctx, tx, i.SiteID, in.Email); err != nil {
				return err
			}
			token = ident.Secret("")
			q += `, token_hash = ?, sent_at = ?, send_count = send_count + 1`
			args = append(args, ident.Hash(token), now)
		}
		_, err = tx.Exec(ctx, q+` WHERE id = ? AND status = 'pending'`, append(args, id)...)
		if store.IsUniqueViolation(err) {
			return fieldConflict("email", in.Email+" has already been invited to this site")
		}
		if err != nil {
			return errs.Wrap(err, "update invitation")
		}
		changed["site_id"] = i.SiteID
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "invitation.update", "invitation", id, audit.Success, changed)); err != nil {
			return err
		}
		if token == "" {
			return nil
		}
		return s.mailInvitation(ctx, tx, p, pl, id, in.GivenName+" "+in.FamilyName, in.Email, token, i.ExpiresAt)
	})
	if err != nil {
		return nil, err
	}
	return s.loadInvitation(ctx, s.db, id)
}

// diffInvitation names the fields an edit changes, with their new values.
func diffInvitation(i *Invitation, in *InvitationInput) map[string]string {
	out := map[string]string{}
	for _, f := range []struct{ name, old, new string }{
		{"given_name", i.GivenName, in.GivenName}, {"family_name", i.FamilyName, in.FamilyName}, {"email", i.Email, in.Email},
		{"phone", i.Phone, in.Phone}, {"job_title", i.JobTitle, in.JobTitle}, {"job_category", i.JobCategory, in.JobCategory},
		{"record_role", i.RecordRole, in.RecordRole}, {"finishing_date", i.FinishingDate, in.FinishingDate},
	} {
		if f.old != f.new {
			out[f.name] = f.new
		}
	}
	return out
}

// CancelInvitation cancels a pending invitation of the place's site: its
// link stops working at once, and it stays in the history. Callers: the
// site's authorisers. Errors: as Resend.
func (s *Service) CancelInvitation(ctx context.Context, pl *Place, id string) (*Invitation, error) {
	p := pl.principal()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		i, err := s.pending(ctx, tx, pl, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UnixMicro()
		res, err := tx.Exec(ctx, `UPDATE invitations SET status = 'cancelled', open_key = NULL, closed_at = ?, closed_by = ?, updated_at = ?
			WHERE id = ? AND status = 'pending'`, now, p.UserID, now, id)
		if err != nil {
			return errs.Wrap(err, "cancel invitation")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.Conflict, "This invitation is no longer pending")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "invitation.cancel", "invitation", id, audit.Success,
			map[string]string{"site_id": i.SiteID, "email": i.Email}))
	})
	if err != nil {
		return nil, err
	}
	return s.loadInvitation(ctx, s.db, id)
}
