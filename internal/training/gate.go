package training

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// finish closes an attempt, records the completion (replacing an earlier
// one: a retake extends the validity) and, when this completed the
// person's last outstanding mandatory module, runs the gate. It returns
// what the gate did, or nil.
func (s *Service) finish(ctx context.Context, tx *store.Tx, p *authz.Principal, cat *catalogue, per *person, a *assigned, att *attempt, now time.Time) (*Gate, error) {
	n := now.UnixMicro()
	prev := per.completions[a.m.id]
	wasValid := prev.valid(n)
	if _, err := tx.Exec(ctx, `UPDATE training_attempts SET state = 'finished', finished_at = ?, updated_at = ?, open_key = NULL WHERE id = ?`,
		n, n, att.id); err != nil {
		return nil, errs.Wrap(err, "finish attempt")
	}
	c := &completion{moduleID: a.m.id, version: att.version, completed: n, expires: expiry(n, a.m.ValidityMonths)}
	if _, err := tx.Exec(ctx, `INSERT INTO training_completions (user_id, module_id, version, attempt_id, completed_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, module_id) DO UPDATE SET version = excluded.version, attempt_id = excluded.attempt_id,
		completed_at = excluded.completed_at, expires_at = excluded.expires_at, reminded_30 = 0, reminded_7 = 0, lapsed_at = 0`,
		per.userID, c.moduleID, c.version, att.id, c.completed, c.expires); err != nil {
		return nil, errs.Wrap(err, "record completion")
	}
	d := map[string]string{"version": strconv.Itoa(c.version), "title": cat.version(a.m.id, att.version).title, "retake": strconv.FormatBool(prev != nil)}
	if c.expires != 0 {
		d["valid_until"] = utc(c.expires).Format(time.RFC3339)
	}
	if err := s.log.Record(ctx, tx, audit.New(p.Who(), "training.complete", "training_module", a.m.id, audit.Success, d)); err != nil {
		return nil, err
	}
	per.completions[a.m.id] = c
	delete(per.attempts, a.m.id)
	if wasValid || !a.m.Mandatory {
		// A retake of a module that was complete, or an optional module:
		// neither was holding access back.
		return nil, nil
	}
	return s.gate(ctx, tx, p, cat, per, now, "")
}

// SourceKey is the source key of the new-user request the gate raises for
// a person's membership: one request per membership, so that two
// completions at the same moment raise one request, a request that was
// rejected or cancelled is not raised again behind the authoriser's back,
// and a leaver invited back (a new membership) gets a new one.
func SourceKey(userID, membershipID string) string { return sourcePrefix + userID + ":" + membershipID }

// sourcePrefix begins every source key the gate makes.
const sourcePrefix = "training:"

// gate raises the access request a person needs once every mandatory
// module assigned to them is complete (see needed): a new-user request when
// they have no record account (or a deleted one), new access when their
// account is held for another organisation than a site they joined, a
// reactivation when they came back to a site after their account was
// deactivated; never while another request about them is open, and once per
// membership. The request carries their account's name and e-mail, the
// membership's site, job, record role and finishing date, and the three
// attestations given: the authoriser attested to them when inviting the
// person (an assumption to revisit when invitations record it). It is
// routed as the organisation of the membership routes requests. It is
// raised in the caller's transaction, in a savepoint: if access refuses it
// (the organisation or the region has suspended new requests, say), the
// completion still stands, the refusal is audited and the member is told.
// want, if not "", is the membership to prefer. It returns nil when the
// training is not complete or nothing is to be asked for.
func (s *Service) gate(ctx context.Context, tx *store.Tx, actor *authz.Principal, cat *catalogue, per *person, now time.Time, want string) (*Gate, error) {
	if !trained(cat, per, now) {
		return nil, nil
	}
	n, err := needed(ctx, tx, per, want)
	if err != nil || n == nil {
		return nil, err
	}
	open, err := s.access.HasOpenRequest(ctx, tx, per.userID, per.email)
	if err != nil {
		return nil, err
	}
	if open {
		return &Gate{Message: "Your training is complete. There is already an open access request for you."}, nil
	}
	// A refusal is audited when a member's completion met it; the hourly
	// retry (actor nil) would otherwise repeat the same event every hour.
	refused := func(msg string, d map[string]string) (*Gate, error) {
		if actor == nil {
			return &Gate{Message: msg}, nil
		}
		return &Gate{Message: msg}, s.log.Record(ctx, tx, audit.New(audit.System, "training.gate", "user", per.userID, audit.Failure, d))
	}
	site := n.m
	if site == nil {
		return refused("Your training is complete, but you are not an active member of a site, so no access request was raised. Ask your site authoriser.",
			map[string]string{"reason": "no active membership"})
	}
	if e := n.before; e != nil {
		return &Gate{Message: fmt.Sprintf("Your training is complete. Access request %s was raised for you before (%s); ask your site authoriser about it.",
			e.ref, access.StateLabel(e.state))}, nil
	}
	key := SourceKey(per.userID, site.id)
	// The person raises it (they are its submitter); with the actor's
	// address when they are the one acting.
	who := &authz.Principal{UserID: per.userID, Email: per.email, Name: per.name()}
	if actor != nil && actor.UserID == per.userID {
		who.IP, who.UserAgent = actor.IP, actor.UserAgent
	}
	// The request form requires a job title; memberships made by invitation
	// have one, older ones may not.
	job := site.jobTitle
	if job == "" {
		job = cmp.Or(site.category, "Not recorded")
	}
	notes := "Raised automatically: every assigned training module is complete."
	switch {
	case n.newAccess:
		notes = "Raised automatically: an existing user, whose record account is held for another organisation, has joined " + site.siteName +
			" (" + site.orgName + ") and every assigned training module is complete. New access: their user name and password stay the same."
	case n.typ == access.TypeReactivation:
		notes = "Raised automatically: a returning member, whose record account is deactivated, has joined " + site.siteName +
			" (" + site.orgName + "). Their completed training is kept: no retraining."
	}
	in := access.Input{Type: n.typ, SiteID: site.siteID, OrganisationID: site.orgID, Email: per.email, GivenName: per.given,
		FamilyName: per.family, JobTitle: job, Role: per.roleAt(site), FinishingDate: site.finishing, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true,
		SourceKey: key, Notes: notes}
	var r *access.Request
	err = tx.Savepoint(ctx, func() error {
		var err error
		r, err = s.access.RaiseAutomaticTx(ctx, tx, who, in)
		return err
	})
	if err != nil {
		if errs.CodeOf(err) == errs.Internal {
			return nil, err
		}
		e := errs.As(err)
		return refused("Your training is complete, but your access request could not be raised: "+e.Message+" Your site authoriser can raise it for you.",
			map[string]string{"reason": e.Message, "site_id": site.siteID, "type": n.typ})
	}
	if err := s.log.Record(ctx, tx, audit.New(audit.System, "training.gate", "user", per.userID, audit.Success,
		map[string]string{"request": r.Ref, "request_id": r.ID, "site_id": site.siteID, "role": in.Role, "type": n.typ,
			"new_access": strconv.FormatBool(n.newAccess)})); err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("Your training is complete. Access request %s has been raised for you; you will receive your log-in details by e-mail once your account has been set up.", r.Ref)
	switch {
	case n.newAccess:
		msg = fmt.Sprintf("Your training is complete. Access request %s asks for your record access at %s; your user name and password stay the same. You will be told by e-mail when it is done.",
			r.Ref, site.orgName)
	case n.typ == access.TypeReactivation:
		msg = fmt.Sprintf("Your completed training is kept. Access request %s asks the back office to reactivate your record account for %s; you will be told by e-mail when it is done.",
			r.Ref, site.siteName)
	}
	return &Gate{Raised: true, RequestID: r.ID, RequestRef: r.Ref, Message: msg}, nil
}

// trained reports whether every mandatory module assigned to a person is
// complete and not lapsed (and at least one module is assigned).
func trained(cat *catalogue, per *person, now time.Time) bool {
	as := cat.assign(per)
	if len(as) == 0 {
		return false
	}
	n := now.UnixMicro()
	for _, a := range as {
		if a.m.Mandatory && !per.completions[a.m.id].valid(n) {
			return false
		}
	}
	return true
}

// RaiseIfReadyTx runs the gate for a person outside a completion, in the
// caller's transaction: for when someone whose training is already complete
// becomes a member again or of another site (an accepted invitation, a
// reactivated membership: membershipID names it, so that the request is
// for it), or after a suspension of new requests ends (membershipID "").
// It returns nil when there was nothing to do. Callers: other services
// (invitations, memberships), and Sweep.
func (s *Service) RaiseIfReadyTx(ctx context.Context, tx *store.Tx, userID, membershipID string) (*Gate, error) {
	if err := lockPerson(ctx, tx, userID); err != nil {
		return nil, err
	}
	cat, err := loadCatalogue(ctx, tx)
	if err != nil {
		return nil, err
	}
	per, err := loadPerson(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	return s.gate(ctx, tx, nil, cat, per, s.clock.Now(), membershipID)
}
