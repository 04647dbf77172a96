package access

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

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

// BulkResult reports a bulk completion.
type BulkResult struct {
	Completed int               `json:"completed"`
	Failed    map[string]string `json:"failed"` // request id → why not
}

// bulkChunk bounds one transaction of a bulk completion: big enough to share
// commits, small enough not to hold the writer for long.
const bulkChunk = 250

// CompleteMany completes many requests (a new intake of doctors, say), a
// chunk per transaction. A request that cannot be completed is reported
// and skipped; the others go ahead. Callers: the back office.
func (s *Service) CompleteMany(ctx context.Context, p *authz.Principal, ids []string, note string) (*BulkResult, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	if !isBackOffice(p) {
		return nil, errs.E(errs.Forbidden, "Only the back office completes requests")
	}
	if len(ids) > 20000 {
		return nil, errs.E(errs.Invalid, "Complete at most 20,000 requests at once")
	}
	res := &BulkResult{Failed: map[string]string{}}
	note = strings.TrimSpace(note)
	var mu sync.Mutex
	err := s.chunks(ctx, len(ids), func(tx *store.Tx, start, end int) error {
		done := 0
		failed := map[string]string{}
		loaded, err := s.loadMany(ctx, tx, ids[start:end])
		if err != nil {
			return err
		}
		for _, id := range ids[start:end] {
			// Each request in a savepoint: one that fails leaves nothing
			// half-done and the others go ahead.
			err := tx.Savepoint(ctx, func() error {
				r, ok := loaded[id]
				if !ok {
					var err error
					if r, err = s.load(ctx, tx, id); err != nil { // a reference, or not found
						return err
					}
				}
				delete(loaded, id) // a repeated id is read again, in its new state
				if err := s.checkComplete(p, r); err != nil {
					return err
				}
				from := r.State
				if err := s.completeTx(ctx, tx, p.Who(), r, note); err != nil {
					return err
				}
				if err := s.save(ctx, tx, r, from); err != nil {
					return err
				}
				return s.log.Record(ctx, tx, audit.New(p.Who(), "access_request.complete", "access_request", r.ID, audit.Success,
					map[string]string{"from": from, "to": r.State, "bulk": "1"}))
			})
			if err != nil {
				if errs.CodeOf(err) == errs.Internal {
					return err
				}
				failed[id] = errs.As(err).Message
				continue
			}
			done++
		}
		mu.Lock()
		res.Completed += done
		for k, v := range failed {
			res.Failed[k] = v
		}
		mu.Unlock()
		return nil
	})
	return res, err
}

// loadMany reads the requests with the given ids in one query.
func (s *Service) loadMany(ctx context.Context, tx *store.Tx, ids []string) (map[string]*Request, error) {
	out := make(map[string]*Request, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := tx.Query(ctx, `SELECT `+requestColumns+` FROM access_requests WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "load requests")
	}
	defer rows.Close()
	for rows.Next() {
		r, err := s.scanRequest(rows)
		if err != nil {
			return nil, errs.Wrap(err, "load requests")
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// chunks runs fn over [0, n) in chunks, a transaction each. On PostgreSQL
// several chunks run at once on separate connections: bulk work there is
// bound by round trips, not by the one writer SQLite has.
func (s *Service) chunks(ctx context.Context, n int, fn func(tx *store.Tx, start, end int) error) error {
	workers := 1
	if s.db.Dialect == store.Postgres {
		workers = 8
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for start := 0; start < n; start += bulkChunk {
		end := min(start+bulkChunk, n)
		g.Go(func() error {
			return s.db.InTx(ctx, func(tx *store.Tx) error { return fn(tx, start, end) })
		})
	}
	return g.Wait()
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
	now := s.clock.Now()
	r.State, r.ClosedAt, r.Resolution = StateCompleted, &now, note
	if r.AssignedTo == "" {
		r.AssignedTo = who.UserID
	}
	if err := s.history(ctx, tx, who, r, from, r.State, note); err != nil {
		return err
	}
	return s.mailSubmitter(ctx, tx, r, "request_completed")
}

var nonLetters = regexp.MustCompile(`[^a-z]`)

// username picks a record user name from the person's name: first initial
// and family name ("jsmith"), then "jsmith2", "jsmith3" … Bases never end in
// a digit, so a numbered name cannot clash with another base.
func (s *Service) username(ctx context.Context, tx *store.Tx, given, family string) (string, error) {
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
	const next = `INSERT INTO username_counters (base, n) VALUES (?, 1)
		ON CONFLICT (base) DO UPDATE SET n = username_counters.n + 1 RETURNING n`
	var n int64
	var err error
	if s.db.Dialect == store.Postgres {
		// Outside the transaction, like a sequence: concurrent bulk
		// transactions of one intake (all "dintake…") must not queue on the
		// counter's row lock. A rolled-back transaction leaves a gap in the
		// numbers, which is harmless.
		err = s.db.W.QueryRowContext(ctx, s.db.Rebind(next), base).Scan(&n)
	} else {
		err = tx.QueryRow(ctx, next, base).Scan(&n)
	}
	if err != nil {
		return "", errs.Wrap(err, "choose user name")
	}
	if n == 1 {
		return base, nil
	}
	return base + strconv.FormatInt(n, 10), nil
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
		return errs.E(errs.Conflict, "%s already has a record account (%s)", r.Email, acct.Status)
	}
	username := ""
	if acct != nil {
		username = acct.Username
		_, err = tx.Exec(ctx, `UPDATE record_accounts SET organisation_id = ?, role = ?, status = ?, status_reason = '', finishing_date = ?,
			activated_at = ?, last_used_at = 0, idle_from = ?, inactivity_warned_at = 0, updated_at = ? WHERE id = ?`, r.OrganisationID, r.Role, AccountActive, r.FinishingDate, now, now, now, acct.ID)
	} else {
		if username, err = s.username(ctx, tx, r.GivenName, r.FamilyName); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, finishing_date, activated_at, idle_from, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ident.New(), userID, r.OrganisationID, username, r.Role, AccountActive, r.FinishingDate, now, now, now, now)
	}
	if err != nil {
		return errs.Wrap(err, "record account")
	}
	if err := s.log.Record(ctx, tx, audit.New(who, "record_account.grant", "user", userID, audit.Success,
		map[string]string{"role": r.Role, "username": username, "request": r.Ref})); err != nil {
		return err
	}
	data := map[string]string{"Name": r.Name(), "Username": username, "Link": s.link("/signin")}
	if _, err := s.outbox.Enqueue(ctx, tx, notify.Message{To: r.Email, Kind: "credentials_username", Data: data,
		RelatedType: "access_request", RelatedID: r.ID}); err != nil {
		return errs.Wrap(err, "queue e-mail")
	}
	// Someone who already signs in to the portal keeps their own password.
	if !created {
		var hash string
		if err := tx.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash); err != nil {
			return errs.Wrap(err, "read account")
		}
		if hash != "" {
			return nil
		}
	}
	pw, err := s.users.SetOneTimePasswordTx(ctx, tx, userID)
	if err != nil {
		return err
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
	if err := wantAccount(r.Type, acct); err != nil {
		return err
	}
	now := s.clock.Now().UnixMicro()
	q := `UPDATE record_accounts SET status = ?, status_reason = ?, updated_at = ?`
	args := []any{status, reason, now}
	if status == AccountActive {
		// The inactivity clock starts again at reactivation.
		q += `, activated_at = ?, last_used_at = 0, idle_from = ?, inactivity_warned_at = 0`
		args = append(args, now, now)
		if r.FinishingDate != "" {
			q += `, finishing_date = ?`
			args = append(args, r.FinishingDate)
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
