package access

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

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
		c := &completing{s: s, tx: tx, p: p, note: note, failed: map[string]string{}}
		if err := c.run(ctx, ids[start:end]); err != nil {
			return err
		}
		mu.Lock()
		res.Completed += c.done
		for k, v := range c.failed {
			res.Failed[k] = v
		}
		mu.Unlock()
		return nil
	})
	return res, err
}

// completing is one chunk of a bulk completion. New-user requests, the
// usual intake, are completed together: what they need to know is read in
// one query, and what they change is written in a few set-based
// statements. Any other request (another type, a reference, a repeated id,
// a person already in the batch) is completed on its own as Complete would,
// after the batch so far, so that it sees everything done before it.
type completing struct {
	s    *Service
	tx   *store.Tx
	p    *authz.Principal
	note string

	loaded map[string]*Request // read at the start and not yet taken
	people map[string]person   // by e-mail and by user id; nil when it must be read again
	batch  []*Request          // new-user requests planned, in order
	taken  map[string]bool     // the e-mail addresses and user ids of the batch
	noPass map[string]bool     // the user ids of the batch's people who have never set a password

	done   int
	failed map[string]string
}

// person is what a bulk completion knows of someone with a portal account.
type person struct {
	userID      string
	hasPassword bool
	account     string // the status of their record account, "" for none
}

func (c *completing) run(ctx context.Context, ids []string) error {
	var err error
	if c.loaded, err = c.s.loadMany(ctx, c.tx, ids); err != nil {
		return err
	}
	for _, id := range ids {
		r, ok := c.loaded[id]
		delete(c.loaded, id) // a repeated id is read again, in its new state
		if ok {
			if err := c.s.checkComplete(c.p, r); err != nil {
				c.failed[id] = errs.As(err).Message
				continue
			}
			planned, err := c.plan(ctx, r)
			if err != nil {
				return err
			}
			if planned {
				continue
			}
		}
		if err := c.flush(ctx); err != nil {
			return err
		}
		if err := c.one(ctx, id); err != nil {
			return err
		}
	}
	return c.flush(ctx)
}

// plan adds a new-user request to the batch, or reports false for one
// that must be completed on its own: anything but a person without a
// record account, who can be given one in a batch.
func (c *completing) plan(ctx context.Context, r *Request) (bool, error) {
	if r.Type != TypeNewUser || c.taken[r.Email] || (r.SubjectUserID != "" && c.taken[r.SubjectUserID]) {
		return false, nil
	}
	if c.people == nil {
		if err := c.readPeople(ctx, r); err != nil {
			return false, err
		}
	}
	key := r.Email
	if r.SubjectUserID != "" {
		key = r.SubjectUserID
	}
	pe, ok := c.people[key]
	switch {
	case !ok && r.SubjectUserID != "":
		return false, nil // their account has gone: grant says so
	case !ok:
		n := auth.NewUser{Email: r.Email, GivenName: r.GivenName, FamilyName: r.FamilyName}
		if n.Validate() != nil {
			return false, nil // grant says why
		}
	case pe.account != "" || c.taken[pe.userID]:
		// A leaver back, whose account is brought back on its own; someone
		// with an account, refused on their own too (the request may have
		// been completed meanwhile, which says it better); or someone
		// already in the batch.
		return false, nil
	}
	if c.taken == nil {
		c.taken, c.noPass = map[string]bool{}, map[string]bool{}
	}
	c.taken[r.Email] = true
	if ok {
		r.SubjectUserID = pe.userID
		c.taken[pe.userID], c.noPass[pe.userID] = true, !pe.hasPassword
	}
	c.batch = append(c.batch, r)
	return true, nil
}

// readPeople reads, in one query, the portal accounts and record accounts
// of the people of r and of the new-user requests still to come.
func (c *completing) readPeople(ctx context.Context, r *Request) error {
	var emails, userIDs []string
	for _, q := range append([]*Request{r}, slices.Collect(maps.Values(c.loaded))...) {
		switch {
		case q.Type != TypeNewUser:
		case q.SubjectUserID != "":
			userIDs = append(userIDs, q.SubjectUserID)
		default:
			emails = append(emails, q.Email)
		}
	}
	cond, args := store.AnyIn(c.s.db.Dialect, store.Match{Col: "u.email", Vals: emails}, store.Match{Col: "u.id", Vals: userIDs})
	rows, err := c.tx.Query(ctx, `SELECT u.id, u.email, u.password_hash <> '', COALESCE(a.status, '')
		FROM users u LEFT JOIN record_accounts a ON a.user_id = u.id WHERE `+cond, args...)
	if err != nil {
		return errs.Wrap(err, "read people")
	}
	defer rows.Close()
	c.people = map[string]person{}
	for rows.Next() {
		var pe person
		var email string
		if err := rows.Scan(&pe.userID, &email, &pe.hasPassword, &pe.account); err != nil {
			return errs.Wrap(err, "read people")
		}
		c.people[pe.userID], c.people[email] = pe, pe
	}
	return rows.Err()
}

// flush completes the batch. Should any of it have changed meanwhile (a
// request moved, an account made by someone else), the batch is undone and
// its requests are completed one by one, which says which and why.
func (c *completing) flush(ctx context.Context) error {
	batch, noPass := c.batch, c.noPass
	c.batch, c.taken, c.noPass, c.people = nil, nil, nil, nil
	if len(batch) == 0 {
		return nil
	}
	err := c.tx.Savepoint(ctx, func() error { return c.s.completeNewUsers(ctx, c.tx, c.p.Who(), batch, noPass, c.note) })
	switch {
	case err == nil:
		c.done += len(batch)
		return nil
	case errs.CodeOf(err) == errs.Internal:
		return err
	}
	for _, r := range batch {
		if err := c.one(ctx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// one completes a request on its own, in a savepoint: if it fails it
// leaves nothing half-done and the others go ahead.
func (c *completing) one(ctx context.Context, id string) error {
	c.people = nil // what it changes is read again
	s, tx, p := c.s, c.tx, c.p
	err := tx.Savepoint(ctx, func() error {
		r, err := s.load(ctx, tx, id) // an id, or a reference
		if err != nil {
			return err
		}
		delete(c.loaded, r.ID) // read again when it comes again: this changes it
		if err := s.checkComplete(p, r); err != nil {
			return err
		}
		from := r.State
		if err := s.completeTx(ctx, tx, p.Who(), r, c.note); err != nil {
			return err
		}
		if err := s.save(ctx, tx, r, from); err != nil {
			return err
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "access_request.complete", "access_request", r.ID, audit.Success,
			map[string]string{"from": from, "to": r.State, "bulk": "1"}))
	})
	switch {
	case err == nil:
		c.done++
	case errs.CodeOf(err) == errs.Internal:
		return err
	default:
		c.failed[id] = errs.As(err).Message
	}
	return nil
}

// completeNewUsers completes new-user requests planned by a bulk
// completion, as completeTx and save would one by one, in a few set-based
// statements: the portal accounts of those who have none (each with a
// one-time password), one-time passwords for those who have never set one,
// the user names, the record accounts, the history and the requests; then,
// request by request, the audit events and e-mails, which are written
// together when the transaction commits. A request whose SubjectUserID is
// set belongs to a person with an account and no record account; noPass
// holds those of them who have never set a password.
// Errors: Conflict when a request or an account changed meanwhile.
func (s *Service) completeNewUsers(ctx context.Context, tx *store.Tx, who audit.Who, rs []*Request, noPass map[string]bool, note string) error {
	pws := make([]string, len(rs))
	var create []auth.NewUser
	var created, reset []int
	var resetIDs []string
	for i, r := range rs {
		if r.SubjectUserID == "" {
			create = append(create, auth.NewUser{Email: r.Email, GivenName: r.GivenName, FamilyName: r.FamilyName})
			created = append(created, i)
		}
	}
	if len(create) > 0 {
		users, p, err := s.users.CreateUsersWithOneTimePasswordsTx(ctx, tx, who, create)
		if err != nil {
			return err
		}
		for j, i := range created {
			rs[i].SubjectUserID, pws[i] = users[j].ID, p[j]
		}
	}
	for i, r := range rs {
		if noPass[r.SubjectUserID] {
			reset, resetIDs = append(reset, i), append(resetIDs, r.SubjectUserID)
		}
	}
	if len(reset) > 0 {
		p, err := s.users.SetOneTimePasswordsTx(ctx, tx, resetIDs)
		if err != nil {
			return err
		}
		for j, i := range reset {
			pws[i] = p[j]
		}
	}
	names, err := s.usernames(ctx, tx, rs)
	if err != nil {
		return err
	}
	if err := s.insertAccounts(ctx, tx, rs, names); store.IsUniqueViolation(err) {
		return errs.E(errs.Conflict, "Someone else gave one of these people a record account at the same time")
	} else if err != nil {
		return errs.Wrap(err, "record accounts")
	}
	steps := make([]step, len(rs))
	from := make([]string, len(rs))
	rows := make([]any, 0, 4*len(rs))
	for i, r := range rs {
		from[i] = r.State
		s.markCompleted(r, who, note)
		steps[i] = step{r, from[i], r.State, note}
		rows = append(rows, r.ID, from[i], r.SubjectUserID, r.AssignedTo)
	}
	if err := s.histories(ctx, tx, who, steps); err != nil {
		return err
	}
	now := s.clock.Now()
	n, err := tx.ExecRows(ctx, `UPDATE access_requests SET state = ?, resolution = ?, closed_at = ?, updated_at = ?, open_key = NULL,
		subject_user_id = v.column3, assigned_to = v.column4 FROM (VALUES `, []any{StateCompleted, note, now.UnixMicro(), now.UnixMicro()}, 4, rows,
		`) AS v WHERE access_requests.id = v.column1 AND access_requests.state = v.column2`)
	if err != nil {
		return errs.Wrap(err, "update requests")
	}
	if n != int64(len(rs)) {
		return errs.E(errs.Conflict, "Someone else changed one of these requests at the same time")
	}
	for i, r := range rs {
		r.UpdatedAt = now
		if err := s.granted(ctx, tx, who, r, names[i], pws[i]); err != nil {
			return err
		}
		if err := s.mailSubmitter(ctx, tx, r, "request_completed"); err != nil {
			return err
		}
		if err := s.log.Record(ctx, tx, audit.New(who, "access_request.complete", "access_request", r.ID, audit.Success,
			map[string]string{"from": from[i], "to": r.State, "bulk": "1"})); err != nil {
			return err
		}
	}
	return nil
}

// loadMany reads the requests with the given ids in one query.
func (s *Service) loadMany(ctx context.Context, tx *store.Tx, ids []string) (map[string]*Request, error) {
	out := make(map[string]*Request, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := store.In(tx.Dialect(), "id", ids)
	rows, err := tx.Query(ctx, `SELECT `+requestColumns+` FROM access_requests WHERE `+in, args...)
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
