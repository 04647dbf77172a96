package access

import (
	"context"
	"database/sql"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// Complete actions a request: the record account is created or changed as
// the request says, the people concerned are e-mailed, and the request
// closes. Callers: the back office. Errors: NotFound, Forbidden, Conflict.
func (s *Service) Complete(ctx context.Context, p *authz.Principal, id, note string) (*Request, error) {
	note = strings.TrimSpace(note)
	return s.move(ctx, p, id, "complete", func(r *Request) error {
		return s.checkComplete(p, r)
	}, func(tx *store.Tx, r *Request) error {
		return s.completeTx(ctx, tx, p.Who(), r, note)
	})
}

func (s *Service) checkComplete(p *authz.Principal, r *Request) error {
	if !isBackOffice(p) {
		return errs.E(errs.Forbidden, "Only the back office completes requests")
	}
	if r.State != StateValidated && r.State != StateInProgress {
		return illegal(r, "completed")
	}
	return nil
}

// completeTx applies a request to the record account and closes it.
func (s *Service) completeTx(ctx context.Context, tx *store.Tx, who audit.Who, r *Request, note string) error {
	from := r.State
	var err error
	switch r.Type {
	case TypeNewUser:
		err = s.grant(ctx, tx, who, r)
	case TypeAmendment:
		err = s.amend(ctx, tx, who, r)
	case TypeReactivation:
		err = s.setStatus(ctx, tx, who, r, AccountActive, "", "Your access to the "+s.cfg.ServiceName+" has been reactivated.")
	case TypeDeactivation:
		err = s.setStatus(ctx, tx, who, r, AccountDeactivated, r.Reason, "Your access to the "+s.cfg.ServiceName+" has been deactivated.")
	case TypeDeletion:
		err = s.setStatus(ctx, tx, who, r, AccountDeleted, r.Reason, "Your access to the "+s.cfg.ServiceName+" has been removed.")
	}
	if err != nil {
		return err
	}
	s.markCompleted(r, who, note)
	if err := s.history(ctx, tx, who, r, from, r.State, note); err != nil {
		return err
	}
	return s.mailSubmitter(ctx, tx, r, "request_completed")
}

// markCompleted closes a request as completed by who; the caller writes
// its history and saves it.
func (s *Service) markCompleted(r *Request, who audit.Who, note string) {
	now := s.clock.Now()
	r.State, r.ClosedAt, r.Resolution = StateCompleted, &now, note
	if r.AssignedTo == "" {
		r.AssignedTo = who.UserID
	}
}

var nonLetters = regexp.MustCompile(`[^a-z]`)

// usernameBase is the stem of a person's record user name: first initial
// and family name ("jsmith"). Bases never end in a digit, so a numbered
// name cannot clash with another base.
func usernameBase(given, family string) string {
	base := nonLetters.ReplaceAllString(strings.ToLower(family), "")
	if g := nonLetters.ReplaceAllString(strings.ToLower(given), ""); g != "" {
		base = g[:1] + base
	}
	if len(base) > 20 {
		base = base[:20]
	}
	if len(base) < 2 {
		base = "user"
	}
	return base
}

// usernames picks record user names for people, in order: "jsmith", then
// "jsmith2", "jsmith3" … Each base's counter moves once for all the people
// who share it, so a bulk completion chooses all its names in one statement.
func (s *Service) usernames(ctx context.Context, tx *store.Tx, people []*Request) ([]string, error) {
	bases := make([]string, len(people))
	count := map[string]int64{}
	var args []any
	for i, r := range people {
		bases[i] = usernameBase(r.GivenName, r.FamilyName)
		if count[bases[i]] == 0 {
			args = append(args, bases[i], nil)
		}
		count[bases[i]]++
	}
	for i := 0; i < len(args); i += 2 {
		args[i+1] = count[args[i].(string)]
	}
	q := `INSERT INTO username_counters (base, n) VALUES ` + store.Values(len(args)/2, 2) + `
		ON CONFLICT (base) DO UPDATE SET n = username_counters.n + excluded.n RETURNING base, n`
	var rows *sql.Rows
	var err error
	if s.db.Dialect == store.Postgres {
		// Outside the transaction, like a sequence: concurrent bulk
		// transactions of one intake (all "dintake…") must not queue on the
		// counter's row lock. A rolled-back transaction leaves a gap in the
		// numbers, which is harmless.
		rows, err = s.db.W.QueryContext(ctx, s.db.Rebind(q), args...)
	} else {
		rows, err = tx.Query(ctx, q, args...)
	}
	if err != nil {
		return nil, errs.Wrap(err, "choose user names")
	}
	defer rows.Close()
	next := map[string]int64{} // the first number of each base's run
	for rows.Next() {
		var base string
		var last int64
		if err := rows.Scan(&base, &last); err != nil {
			return nil, errs.Wrap(err, "choose user names")
		}
		next[base] = last - count[base] + 1
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "choose user names")
	}
	names := make([]string, len(people))
	for i, base := range bases {
		n := next[base]
		next[base]++
		names[i] = base
		if n > 1 {
			names[i] += strconv.FormatInt(n, 10)
		}
	}
	return names, nil
}

// grant actions a new-user request: the sign-in identity if the person has
// none, the record account (or the deleted one brought back: a re-invited
// leaver is the same person), and the user name and a one-time password in
// two separate e-mails, the password to the organisation's nominated
// individual where it has one.
func (s *Service) grant(ctx context.Context, tx *store.Tx, who audit.Who, r *Request) error {
	now := s.clock.Now().UnixMicro()
	userID := r.SubjectUserID
	if userID == "" {
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE email = ?`, r.Email).Scan(&userID)
		if err != nil && !store.IsNoRows(err) {
			return errs.Wrap(err, "find user")
		}
	}
	created := false
	if userID == "" {
		u, err := s.users.CreateUserTx(ctx, tx, who, auth.NewUser{Email: r.Email, GivenName: r.GivenName, FamilyName: r.FamilyName})
		if err != nil {
			return err
		}
		userID, created = u.ID, true
	}
	r.SubjectUserID = userID
	var acct *RecordAccount
	if !created {
		var err error
		if acct, err = s.accountTx(ctx, tx, userID); err != nil && errs.CodeOf(err) != errs.NotFound {
			return err
		}
	}
	var err error
	if acct != nil && acct.Status != AccountDeleted {
		if err := wantAccount(r.Type, r.OrganisationID, acct); err != nil {
			return errs.E(errs.Conflict, "%s already has a record account (%s)", r.Email, acct.Status)
		}
		return s.newAccess(ctx, tx, who, r, acct)
	}
	username := ""
	if acct != nil {
		username = acct.Username
		_, err = tx.Exec(ctx, `UPDATE record_accounts SET organisation_id = ?, role = ?, status = ?, status_reason = '', finishing_date = ?,
			activated_at = ?, last_used_at = 0, idle_from = ?, inactivity_warned_at = 0, updated_at = ? WHERE id = ?`, r.OrganisationID, r.Role, AccountActive, r.FinishingDate, now, now, now, acct.ID)
	} else {
		var names []string
		if names, err = s.usernames(ctx, tx, []*Request{r}); err != nil {
			return err
		}
		username = names[0]
		err = s.insertAccounts(ctx, tx, []*Request{r}, names)
	}
	if err != nil {
		return errs.Wrap(err, "record account")
	}
	// Someone who already signs in to the portal keeps their own password.
	pw, needsPassword := "", created
	if !created {
		var hash string
		if err := tx.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash); err != nil {
			return errs.Wrap(err, "read account")
		}
		needsPassword = hash == ""
	}
	if needsPassword {
		if pw, err = s.users.SetOneTimePasswordTx(ctx, tx, userID); err != nil {
			return err
		}
	}
	return s.granted(ctx, tx, who, r, username, pw)
}

// newAccess actions a new-user request for someone whose live record
// account is held for another organisation: an existing user at a new site.
// The account is already theirs (user name and password unchanged) and
// follows them to the request's organisation, with the role and finishing
// date it asks for. A pending account becomes active, its inactivity clock
// starting now; an active one keeps its clock. They are told by e-mail; no
// credentials are sent.
func (s *Service) newAccess(ctx context.Context, tx *store.Tx, who audit.Who, r *Request, acct *RecordAccount) error {
	now := s.clock.Now().UnixMicro()
	q := `UPDATE record_accounts SET organisation_id = ?, role = ?, finishing_date = ?, status = ?, status_reason = '', updated_at = ?`
	args := []any{r.OrganisationID, r.Role, r.FinishingDate, AccountActive, now}
	if acct.Status != AccountActive {
		q += `, activated_at = ?, last_used_at = 0, idle_from = ?, inactivity_warned_at = 0`
		args = append(args, now, now)
	}
	if _, err := tx.Exec(ctx, q+` WHERE id = ?`, append(args, acct.ID)...); err != nil {
		return errs.Wrap(err, "record account")
	}
	var orgName string
	if err := tx.QueryRow(ctx, `SELECT name FROM organisations WHERE id = ?`, r.OrganisationID).Scan(&orgName); err != nil {
		return errs.Wrap(err, "read organisation")
	}
	if err := s.log.Record(ctx, tx, audit.New(who, "record_account.grant", "user", r.SubjectUserID, audit.Success,
		map[string]string{"role": r.Role, "username": acct.Username, "request": r.Ref, "new_access": "true",
			"organisation_id": r.OrganisationID, "previous_organisation_id": acct.OrganisationID})); err != nil {
		return err
	}
	return s.mailUser(ctx, tx, r, r.Email, "You can now use the "+s.cfg.ServiceName+" for "+orgName+
		". Sign in with your existing user name, "+acct.Username+", and password.", "")
}

// insertAccounts creates the active record accounts of new-user requests
// (whose SubjectUserID is set) with the user names given, in one statement.
func (s *Service) insertAccounts(ctx context.Context, tx *store.Tx, rs []*Request, names []string) error {
	now := s.clock.Now().UnixMicro()
	args := make([]any, 0, 11*len(rs))
	for i, r := range rs {
		args = append(args, ident.New(), r.SubjectUserID, r.OrganisationID, names[i], r.Role, AccountActive, r.FinishingDate, now, now, now, now)
	}
	_, err := tx.ExecRows(ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, finishing_date, activated_at, idle_from, created_at, updated_at)
		VALUES `, nil, 11, args, "")
	return err
}

// granted audits a granted record account and sends its credentials: the
// user name and, when pw is given, the one-time password in a separate
// e-mail, to the organisation's nominated individual where it has one.
func (s *Service) granted(ctx context.Context, tx *store.Tx, who audit.Who, r *Request, username, pw string) error {
	if err := s.log.Record(ctx, tx, audit.New(who, "record_account.grant", "user", r.SubjectUserID, audit.Success,
		map[string]string{"role": r.Role, "username": username, "request": r.Ref})); err != nil {
		return err
	}
	data := map[string]string{"Name": r.Name(), "Username": username, "Link": s.link("/signin")}
	if _, err := s.outbox.Enqueue(ctx, tx, notify.Message{To: r.Email, Kind: "credentials_username", Data: data,
		RelatedType: "access_request", RelatedID: r.ID}); err != nil {
		return errs.Wrap(err, "queue e-mail")
	}
	if pw == "" {
		return nil
	}
	to, forName := r.Email, ""
	recipient, err := memo(tx, "recipient:"+r.OrganisationID, func() (string, error) {
		var v string
		err := tx.QueryRow(ctx, `SELECT password_recipient FROM organisations WHERE id = ?`, r.OrganisationID).Scan(&v)
		return v, err
	})
	if err != nil {
		return errs.Wrap(err, "read organisation")
	}
	if recipient != "" {
		to, forName = recipient, r.Name()
	}
	_, err = s.outbox.Enqueue(ctx, tx, notify.Message{To: to, Kind: "credentials_password", Sensitive: true, RelatedType: "access_request", RelatedID: r.ID,
		Data: map[string]string{"Name": r.Name(), "Password": pw, "ForName": forName, "Link": s.link("/signin")}})
	if err != nil {
		return errs.Wrap(err, "queue e-mail")
	}
	return nil
}

// amend changes the record account's role, finishing date or the person's
// e-mail address.
func (s *Service) amend(ctx context.Context, tx *store.Tx, who audit.Who, r *Request) error {
	acct, err := s.accountTx(ctx, tx, r.SubjectUserID)
	if err != nil {
		return err
	}
	if acct.Status == AccountDeleted {
		return errs.E(errs.Conflict, "The record account has been removed; raise a new user request")
	}
	role, finish := acct.Role, acct.FinishingDate
	var changes []string
	if r.Role != "" && r.Role != role {
		role = r.Role
		changes = append(changes, "your record role is now "+strings.ReplaceAll(role, "_", " "))
	}
	if r.FinishingDate != "" && r.FinishingDate != finish {
		finish = r.FinishingDate
		changes = append(changes, "your access ends on "+finish)
	}
	now := s.clock.Now().UnixMicro()
	if _, err := tx.Exec(ctx, `UPDATE record_accounts SET role = ?, finishing_date = ?, updated_at = ? WHERE id = ?`, role, finish, now, acct.ID); err != nil {
		return errs.Wrap(err, "amend record account")
	}
	to := r.Email
	if r.NewEmail != "" {
		_, err := tx.Exec(ctx, `UPDATE users SET email = ?, updated_at = ? WHERE id = ?`, r.NewEmail, now, r.SubjectUserID)
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "Another account already uses %s", r.NewEmail)
		}
		if err != nil {
			return errs.Wrap(err, "change e-mail")
		}
		to = r.NewEmail
		changes = append(changes, "your e-mail address is now "+r.NewEmail)
	}
	if err := s.log.Record(ctx, tx, audit.New(who, "record_account.amend", "user", r.SubjectUserID, audit.Success,
		map[string]string{"role": role, "finishing_date": finish, "new_email": r.NewEmail, "request": r.Ref})); err != nil {
		return err
	}
	change := "Your details have been updated."
	if len(changes) > 0 {
		change = "Your access has been changed: " + strings.Join(changes, "; ") + "."
	}
	return s.mailUser(ctx, tx, r, to, change, "")
}

// setStatus reactivates, deactivates or deletes a record account.
// Deactivation and deletion end the person's sessions at once; deletion
// keeps the row (deprovisioning, not erasure).
func (s *Service) setStatus(ctx context.Context, tx *store.Tx, who audit.Who, r *Request, status, reason, change string) error {
	acct, err := s.accountTx(ctx, tx, r.SubjectUserID)
	if err != nil {
		return err
	}
	if err := wantAccount(r.Type, r.OrganisationID, acct); err != nil {
		return err
	}
	now := s.clock.Now().UnixMicro()
	q := `UPDATE record_accounts SET status = ?, status_reason = ?, updated_at = ?`
	args := []any{status, reason, now}
	if status == AccountDeactivated {
		q += `, deactivated_at = ?`
		args = append(args, now)
	}
	if status == AccountActive {
		// The inactivity clock starts again at reactivation.
		q += `, activated_at = ?, last_used_at = 0, idle_from = ?, inactivity_warned_at = 0`
		args = append(args, now, now)
		switch {
		case acct.OrganisationID != r.OrganisationID:
			// Reactivated for another organisation (a returning member who
			// joined a site of it): the account follows them there, on the
			// terms of the new post.
			q += `, organisation_id = ?, finishing_date = ?`
			args = append(args, r.OrganisationID, r.FinishingDate)
			if r.Role != "" {
				q += `, role = ?`
				args = append(args, r.Role)
			}
		case r.FinishingDate != "":
			q += `, finishing_date = ?`
			args = append(args, r.FinishingDate)
		case acct.FinishingDate != "" && acct.FinishingDate <= s.today().Format(time.DateOnly):
			// The end of an earlier post, passed: kept, it would end the
			// access again at the next sweep. The request named no new end.
			q += `, finishing_date = ''`
		}
	}
	if _, err := tx.Exec(ctx, q+` WHERE id = ?`, append(args, acct.ID)...); err != nil {
		return errs.Wrap(err, "change record account")
	}
	if status != AccountActive {
		if err := s.users.RevokeAllTx(ctx, tx, r.SubjectUserID); err != nil {
			return err
		}
	}
	if err := s.log.Record(ctx, tx, audit.New(who, "record_account."+status, "user", r.SubjectUserID, audit.Success,
		map[string]string{"reason": reason, "request": r.Ref})); err != nil {
		return err
	}
	return s.mailUser(ctx, tx, r, r.Email, change, reason)
}

// MarkUsed records that people opened the record at the time at: their
// accounts' last use and inactivity clock move forward (never back) and an
// inactivity warning already sent is cleared. The record viewer calls it in
// batches rather than once per request. Only active accounts are touched.
func (s *Service) MarkUsed(ctx context.Context, at time.Time, userIDs ...string) error {
	const chunk = 500
	t := at.UnixMicro()
	for len(userIDs) > 0 {
		n := min(chunk, len(userIDs))
		part := userIDs[:n]
		userIDs = userIDs[n:]
		args := make([]any, 0, n+3)
		args = append(args, t, t)
		for _, id := range part {
			args = append(args, id)
		}
		args = append(args, t)
		q := `UPDATE record_accounts SET last_used_at = ?, idle_from = ?, inactivity_warned_at = 0
			WHERE user_id IN (?` + strings.Repeat(", ?", n-1) + `) AND status = 'active' AND last_used_at < ?`
		if _, err := s.db.Exec(ctx, q, args...); err != nil {
			return errs.Wrap(err, "mark record accounts used")
		}
	}
	return nil
}
