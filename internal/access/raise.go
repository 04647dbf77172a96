package access

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// Title is the request title of the seed's convention: "<service name>
// (starter|change|leaver) <full name>".
func Title(service, typ, fullName string) string {
	kind := "change"
	switch typ {
	case TypeNewUser:
		kind = "starter"
	case TypeDeletion:
		kind = "leaver"
	}
	return service + " (" + kind + ") " + fullName
}

// newRef returns a short human reference such as R-7K3M9Q (no 0/O, 1/I).
func newRef() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 7)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	out := []byte("R-")
	for _, c := range b {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

func text(v *errs.Validation, field, label, s string, required bool, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		v.Add(field, "Enter the %s", strings.ToLower(label))
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "%s must be %d characters or fewer", label, max)
	case strings.ContainsAny(s, "<>\x00\r") || !utf8.ValidString(s):
		v.Add(field, "%s must not contain < > or control characters", label)
	}
	return s
}

// date checks a YYYY-MM-DD date; notBefore (if not zero) is the earliest allowed day.
func date(v *errs.Validation, field, label, s string, notBefore time.Time) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	d, err := time.ParseInLocation("2006-01-02", s, london)
	if err != nil {
		v.Add(field, "%s must be a real date, like 2027-03-31", label)
		return s
	}
	if !notBefore.IsZero() && d.Before(notBefore) {
		v.Add(field, "%s must be today or later", label)
	}
	return s
}

// today is the start of the current day in England.
func (s *Service) today() time.Time { return clock.Today(s.clock) }

// check validates an input and normalises it.
func (s *Service) check(in *Input, o *org.Organisation) error {
	var v errs.Validation
	if !slices.Contains(Types, in.Type) {
		v.Add("type", "Choose the type of request")
	}
	email, ok := auth.NormaliseEmail(in.Email)
	switch {
	case !ok:
		v.Add("email", "Enter the person's e-mail address, like name@nhs.net")
	case o != nil && !o.AllowsEmail(email):
		v.Add("email", "The e-mail address must be on one of %s's allowed domains: %s", o.Name, strings.Join(o.AllowedDomains, ", "))
	}
	in.Email = email
	in.GivenName = text(&v, "given_name", "First name", in.GivenName, true, 100)
	in.FamilyName = text(&v, "family_name", "Last name", in.FamilyName, true, 100)
	in.JobTitle = text(&v, "job_title", "Job title", in.JobTitle, in.Type == TypeNewUser, 100)
	in.Phone = text(&v, "phone", "Contact number", in.Phone, false, 40)
	in.Notes = text(&v, "notes", "Notes", in.Notes, false, 2000)
	today := s.today()
	in.FinishingDate = date(&v, "finishing_date", "The finishing date", in.FinishingDate, today)
	in.LeavingDate = date(&v, "leaving_date", "The leaving date", in.LeavingDate, time.Time{})
	switch in.Type {
	case TypeNewUser:
		if !slices.Contains(Roles, in.Role) {
			v.Add("role", "Choose the record role: Care Professional or Administrator")
		}
	case TypeAmendment:
		if in.Role != "" && !slices.Contains(Roles, in.Role) {
			v.Add("role", "Choose the record role: Care Professional or Administrator")
		}
		if in.NewEmail != "" {
			ne, ok := auth.NormaliseEmail(in.NewEmail)
			switch {
			case !ok:
				v.Add("new_email", "Enter the new e-mail address, like name@nhs.net")
			case o != nil && !o.AllowsEmail(ne):
				v.Add("new_email", "The new e-mail address must be on one of %s's allowed domains: %s", o.Name, strings.Join(o.AllowedDomains, ", "))
			case ne == email:
				v.Add("new_email", "The new e-mail address is the same as the current one")
			}
			in.NewEmail = ne
		}
		if in.Role == "" && in.NewEmail == "" && in.FinishingDate == "" && in.JobTitle == "" && in.Phone == "" {
			v.Add("role", "Say what should change: the role, the e-mail address, the finishing date or the details")
		}
	case TypeDeactivation:
		if !slices.Contains([]string{ReasonMaternityLeave, ReasonLongTermSickness, ReasonOther}, in.Reason) {
			v.Add("reason", "Choose why the access is being deactivated")
		}
	case TypeDeletion:
		if in.Reason == "" {
			in.Reason = ReasonLeaver
		}
		if !slices.Contains(Reasons, in.Reason) {
			v.Add("reason", "Choose why the access is being removed")
		}
	}
	if in.Type == TypeNewUser || in.Type == TypeReactivation || (in.Type == TypeAmendment && in.Role != "") {
		CheckAttestations(&v, in.AttestDirectCare, in.AttestToldMisuse, in.AttestIGTraining)
	}
	in.SourceKey = strings.TrimSpace(in.SourceKey)
	if len(in.SourceKey) > 200 {
		v.Add("source_key", "The source key must be 200 characters or fewer")
	}
	return v.Err()
}

// openKey is what makes two open requests duplicates: one new-user request
// per e-mail address, and one open change of any other kind per person.
func openKey(in *Input) string {
	if in.Type == TypeNewUser {
		return "new_user:" + in.Email
	}
	return "change:" + in.Email
}

// Raise submits a request. Callers: site authorisers (for a site they
// authorise, of that site's organisation) and the organisation's service
// desk. Where the organisation's service desk validates requests, an
// authoriser's request waits for it; otherwise, and when the service desk
// raises it, the request is validated at once and the SLA starts.
// Errors: Forbidden, NotFound, Invalid, Conflict (duplicate, suspended,
// account in the wrong state).
func (s *Service) Raise(ctx context.Context, p *authz.Principal, in Input) (*Request, error) {
	var out *Request
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.RaiseTx(ctx, tx, p, in)
		return err
	})
	return out, err
}

// RaiseTx is Raise inside the caller's transaction.
func (s *Service) RaiseTx(ctx context.Context, tx *store.Tx, p *authz.Principal, in Input) (*Request, error) {
	return s.raiseTx(ctx, tx, p, in, false)
}

// RaiseAutomaticTx raises a request that the system raises for a person —
// the new-user request when they complete their training — inside the
// caller's transaction. The person is the submitter; no authoriser's
// permission is needed, and it is routed as an authoriser's request would
// be. Give in.SourceKey so that it is raised exactly once. Callers: the
// training gate.
func (s *Service) RaiseAutomaticTx(ctx context.Context, tx *store.Tx, person *authz.Principal, in Input) (*Request, error) {
	return s.raiseTx(ctx, tx, person, in, true)
}

func (s *Service) raiseTx(ctx context.Context, tx *store.Tx, p *authz.Principal, in Input, auto bool) (*Request, error) {
	pl, existing, err := s.planRaise(ctx, tx, p, in, auto, nil)
	if existing != nil || err != nil {
		return existing, err
	}
	err = s.writeRaised(ctx, tx, p, []*planned{pl})
	if store.IsUniqueViolation(err) {
		if in.SourceKey != "" { // raised at the same moment by another call
			in.OrganisationID = pl.r.OrganisationID
			if r, err := s.bySourceKey(ctx, s.db, in); r != nil || err != nil {
				return r, err
			}
		}
		return nil, errs.E(errs.Conflict, "There is already an open request for %s; wait for it to finish or cancel it first", pl.r.Email)
	}
	if err != nil {
		return nil, errs.Wrap(err, "insert request")
	}
	return pl.r, nil
}

// planned is a request checked and ready to write.
type planned struct {
	r         *Request
	openKey   string
	source    any    // the source key, or nil
	validated bool   // validated on submission
	routing   string // why, if so
}

// errOneByOne is planRaise's answer, in a bulk raise, for a request whose
// source key was seen before: it is raised on its own, which finds the
// earlier request.
var errOneByOne = errors.New("raise on its own")

// planRaise checks a request and builds it, or returns the request raised
// before with the same source key. k, in a bulk raise, holds what the
// chunk has read already; nil reads the database.
func (s *Service) planRaise(ctx context.Context, tx *store.Tx, p *authz.Principal, in Input, auto bool, k *known) (*planned, *Request, error) {
	if p == nil {
		return nil, nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	// Where the person works: the site's organisation, whoever asks
	// (permission is checked next), which must be the one named if any.
	var where errs.Validation
	if in.SiteID != "" {
		siteOrg, err := memo(tx, "site:"+in.SiteID, func() (string, error) {
			var v string
			err := tx.QueryRow(ctx, `SELECT organisation_id FROM sites WHERE id = ?`, in.SiteID).Scan(&v)
			return v, err
		})
		switch {
		case store.IsNoRows(err):
			where.Add("site_id", "Choose the site they work at")
		case err != nil:
			return nil, nil, errs.Wrap(err, "find site")
		case in.OrganisationID != "" && in.OrganisationID != siteOrg:
			where.Add("site_id", "The site is not part of the organisation chosen")
		default:
			in.OrganisationID = siteOrg
		}
	}
	var o *org.Organisation
	var err error = errs.E(errs.NotFound, "no organisation")
	if in.OrganisationID != "" {
		o, err = memo(tx, "org:"+p.UserID+":"+in.OrganisationID, func() (*org.Organisation, error) {
			reader := p
			if auto { // the system reads the organisation, not the person
				reader = &authz.Principal{UserID: p.UserID, Email: p.Email, Global: []string{authz.BackOffice}}
			}
			return s.orgs.Organisation(ctx, reader, in.OrganisationID)
		})
	}
	if errs.CodeOf(err) == errs.NotFound || len(where.Fields) > 0 {
		// Say everything that is wrong with the form at once.
		if in.SiteID == "" && !where.Has("site_id") {
			where.Add("organisation_id", "Choose the organisation, or the site they work at")
		}
		if cerr := s.check(&in, nil); cerr != nil {
			where.Fields = append(where.Fields, errs.As(cerr).Fields...)
		}
		return nil, nil, where.Err()
	}
	if err != nil && errs.CodeOf(err) != errs.Forbidden {
		return nil, nil, err
	}
	may, _ := memo(tx, fmt.Sprintf("raise:%t:", auto)+p.UserID+":"+in.OrganisationID+":"+in.SiteID, func() (bool, error) {
		return auto || s.canRaise(ctx, p, in.OrganisationID, in.SiteID), nil
	})
	if err != nil || !may {
		return nil, nil, errs.E(errs.Forbidden, "Only a site authoriser of the site or the organisation's service desk may raise requests for its staff")
	}
	if k != nil && k.sources[strings.TrimSpace(in.SourceKey)] {
		return nil, nil, errOneByOne
	}
	if k == nil && in.SourceKey != "" {
		if r, err := s.bySourceKey(ctx, tx, in); r != nil || err != nil {
			return nil, r, err
		}
	}
	if err := s.check(&in, o); err != nil {
		return nil, nil, err
	}
	if o.Status != org.StatusActive {
		return nil, nil, errs.E(errs.Conflict, "%s is not taking new access requests (%s)", o.Name, o.Status)
	}
	if in.Type == TypeNewUser {
		type suspension struct {
			on  bool
			msg string
		}
		sus, err := memo(tx, "suspended", func() (suspension, error) {
			on, msg, err := onboarding.Suspension(ctx, tx)
			return suspension{on, msg}, err
		})
		if err != nil {
			return nil, nil, err
		}
		on, msg := sus.on, sus.msg
		if on {
			return nil, nil, errs.E(errs.Conflict, "%s", msg)
		}
	}
	// The person: their account, if they have one, and its record account.
	subject, acct, err := s.personOf(ctx, tx, k, in.Email)
	if err != nil {
		return nil, nil, err
	}
	if err := wantAccount(in.Type, in.OrganisationID, acct); err != nil {
		return nil, nil, err
	}

	// Checked before writing, so that a duplicate in a bulk transaction is
	// reported without spoiling the transaction (PostgreSQL aborts a
	// transaction on a failed statement); the unique index still guards
	// against two at the same moment.
	dup, err := s.openTaken(ctx, tx, k, openKey(&in))
	if err != nil {
		return nil, nil, err
	}
	if dup {
		return nil, nil, errs.E(errs.Conflict, "There is already an open request for %s; wait for it to finish or cancel it first", in.Email)
	}
	now := s.clock.Now()
	r := &Request{ID: ident.New(), Ref: newRef(), Type: in.Type, State: StateSubmitted, OrganisationID: in.OrganisationID, SiteID: in.SiteID,
		SubjectUserID: subject, Email: in.Email, GivenName: in.GivenName, FamilyName: in.FamilyName, JobTitle: in.JobTitle, Phone: in.Phone,
		Role: in.Role, NewEmail: in.NewEmail, FinishingDate: in.FinishingDate, Reason: in.Reason, LeavingDate: in.LeavingDate, Notes: in.Notes,
		AttestDirectCare: in.AttestDirectCare, AttestToldMisuse: in.AttestToldMisuse, AttestIGTraining: in.AttestIGTraining,
		SubmittedBy: p.UserID, SubmittedAt: now, UpdatedAt: now}
	r.Title = Title(s.cfg.ServiceName, r.Type, r.Name())
	var source any
	if in.SourceKey != "" {
		source = in.SourceKey
	}
	// Routing: an authoriser's submission counts as validated unless the
	// organisation's service desk validates; the service desk's own
	// submissions are validated by being made. Either way the request is
	// written once, in its state after submission.
	pl := &planned{r: r, openKey: openKey(&in), source: source}
	if o.Routing != org.RoutingServiceDesk || (!auto && p.StaffsServiceDesk(o.ID)) {
		s.markValidated(r, p.UserID)
		pl.validated, pl.routing = true, routingNote(o, p)
	}
	if k != nil {
		k.open[pl.openKey] = true
		if in.SourceKey != "" {
			k.sources[in.SourceKey] = true
		}
	}
	return pl, nil, nil
}

// writeRaised writes requests planned by p, in order: the requests, their
// first steps of history (and the second, when validated on submission) in
// a few statements, then each one's audit event and e-mail to its
// submitter. The error of the requests' insert is returned as it is, for
// the caller to tell a duplicate.
func (s *Service) writeRaised(ctx context.Context, tx *store.Tx, p *authz.Principal, pls []*planned) error {
	rows := make([]any, 0, 30*len(pls))
	var steps []step
	for _, pl := range pls {
		r := pl.r
		rows = append(rows, r.ID, r.Ref, r.Type, r.State, r.Title, r.OrganisationID, nullable(r.SiteID), nullable(r.SubjectUserID), r.Email, r.GivenName,
			r.FamilyName, r.JobTitle, r.Phone, r.Role, r.NewEmail, r.FinishingDate, r.Reason, r.LeavingDate, r.Notes, flag(r.AttestDirectCare),
			flag(r.AttestToldMisuse), flag(r.AttestIGTraining), r.SubmittedBy, r.SubmittedAt.UnixMicro(), r.ValidatedBy, microsOf(r.ValidatedAt), microsOf(r.DueAt), r.UpdatedAt.UnixMicro(),
			pl.openKey, pl.source)
		// The first step, even when validated at once.
		steps = append(steps, step{r, "", StateSubmitted, r.Notes})
		if pl.validated {
			steps = append(steps, step{r, StateSubmitted, StateValidated, "Validated on submission (" + pl.routing + ")"})
		}
	}
	if _, err := tx.ExecRows(ctx, `INSERT INTO access_requests (id, ref, type, state, title, organisation_id, site_id, subject_user_id, email, given_name,
		family_name, job_title, phone, role, new_email, finishing_date, reason, leaving_date, notes, attest_direct_care, attest_told_misuse,
		attest_ig_training, submitted_by, submitted_at, validated_by, validated_at, due_at, updated_at, open_key, source_key) VALUES `, nil, 30, rows, ""); err != nil {
		return err
	}
	if err := s.histories(ctx, tx, p.Who(), steps); err != nil {
		return err
	}
	for _, pl := range pls {
		r := pl.r
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "access_request.submit", "access_request", r.ID, audit.Success,
			map[string]string{"type": r.Type, "organisation_id": r.OrganisationID, "email": r.Email})); err != nil {
			return err
		}
		kind := "request_submitted"
		if pl.validated {
			kind = "request_validated"
		}
		if err := s.mailSubmitter(ctx, tx, r, kind); err != nil {
			return err
		}
	}
	return nil
}

func routingNote(o *org.Organisation, p *authz.Principal) string {
	if p.StaffsServiceDesk(o.ID) {
		return "raised by the organisation's service desk"
	}
	return "the organisation's site authorisers validate"
}

// wantAccount checks that the person's record account allows a request of
// type typ for the organisation orgID. A new-user request for someone whose
// live (pending or active) account is held for another organisation is new
// access: an existing user at a new site, whose account the back office
// brings to orgID (see grant). A deactivation or deletion is for the
// organisation that holds the account: another one's staff cannot end the
// access of someone who now works elsewhere.
func wantAccount(typ, orgID string, a *RecordAccount) error {
	status := ""
	if a != nil {
		status = a.Status
	}
	switch typ {
	case TypeNewUser:
		if status == AccountDeactivated || ((status == AccountPending || status == AccountActive) && a.OrganisationID == orgID) {
			return errs.E(errs.Conflict, "This person already has a record account (%s); raise an amendment or a reactivation instead", status)
		}
	case TypeAmendment:
		if status == "" || status == AccountDeleted {
			return errs.E(errs.Conflict, "This person has no record account to amend; raise a new user request")
		}
	case TypeReactivation:
		if status != AccountDeactivated {
			if status == "" || status == AccountDeleted {
				return errs.E(errs.Conflict, "This person has no deactivated record account; raise a new user request")
			}
			return errs.E(errs.Conflict, "This person's record account is %s, not deactivated", status)
		}
	case TypeDeactivation:
		if status != AccountActive && status != AccountPending {
			return errs.E(errs.Conflict, "This person has no active record account to deactivate")
		}
	case TypeDeletion:
		if status == "" || status == AccountDeleted {
			return errs.E(errs.Conflict, "This person has no record account to remove")
		}
	}
	if (typ == TypeDeactivation || typ == TypeDeletion) && a.OrganisationID != orgID {
		return errs.E(errs.Conflict, "This person's record account is now held for another organisation, where they have joined since: only that organisation can end it")
	}
	return nil
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// history records a transition in the request's history.
func (s *Service) history(ctx context.Context, tx *store.Tx, who audit.Who, r *Request, from, to, note string) error {
	return s.histories(ctx, tx, who, []step{{r, from, to, note}})
}

// step is one transition for histories.
type step struct {
	r              *Request
	from, to, note string
}

// histories records transitions made by who, in order, in one statement:
// each takes the next step number of its request's history.
func (s *Service) histories(ctx context.Context, tx *store.Tx, who audit.Who, steps []step) error {
	actor := who.Email
	if actor == "" {
		actor = audit.SystemActor
	}
	// A statement does not see its own rows: a request's second step in
	// the same statement counts the rows before it and adds 2.
	nth := map[string]int{}
	rows := make([]any, 0, 6*len(steps))
	for _, st := range steps {
		nth[st.r.ID]++
		rows = append(rows, ident.New(), st.r.ID, strconv.Itoa(nth[st.r.ID]), st.from, st.to, st.note)
	}
	// Only text in the VALUES list: PostgreSQL types it from its values.
	_, err := tx.ExecRows(ctx, `INSERT INTO access_request_events (id, request_id, step, at, actor_id, actor, from_state, to_state, note)
		SELECT v.column1, v.column2, (SELECT COUNT(*) FROM access_request_events e WHERE e.request_id = v.column2) + CAST(v.column3 AS INTEGER),
			CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), v.column4, v.column5, v.column6
		FROM (VALUES `, []any{s.clock.Now().UnixMicro(), who.UserID, actor}, 6, rows, `) AS v`)
	if err != nil {
		return errs.Wrap(err, "request history")
	}
	return nil
}

// bySourceKey returns the request raised earlier with the same source key,
// or nil. Keys are scoped to the organisation: a key used elsewhere is
// refused, so that guessing one reveals nothing.
func (s *Service) bySourceKey(ctx context.Context, q store.Querier, in Input) (*Request, error) {
	var id, orgID string
	err := q.QueryRow(ctx, `SELECT id, organisation_id FROM access_requests WHERE source_key = ?`, in.SourceKey).Scan(&id, &orgID)
	if store.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Wrap(err, "find request by source key")
	}
	if orgID != in.OrganisationID {
		return nil, &errs.Error{Code: errs.Conflict, Message: "This source key is already in use; choose another",
			Fields: []errs.FieldError{{Field: "source_key", Message: "Choose another source key"}}}
	}
	return s.load(ctx, q, id)
}

// CheckAttestations adds to v the attestations an authoriser has not given:
// access for direct care only, the person told not to look at their own,
// colleagues', friends' or family's records, their information-governance
// training up to date. Requests that grant access carry all three; the
// portal's reactivation asks for them before it changes the membership.
func CheckAttestations(v *errs.Validation, directCare, toldMisuse, igTraining bool) {
	if !directCare {
		v.Add("attest_direct_care", "Confirm the access is for direct care only")
	}
	if !toldMisuse {
		v.Add("attest_told_misuse", "Confirm you have told them not to look at their own, colleagues', friends' or family's records")
	}
	if !igTraining {
		v.Add("attest_ig_training", "Confirm their information governance training is up to date")
	}
}
