package access

import (
	"context"
	"errors"
	"strings"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// ItemResult is the outcome of one request of a bulk submission.
type ItemResult struct {
	Request *Request    `json:"request,omitempty"`
	Error   *errs.Error `json:"error,omitempty"`
}

// RaiseMany raises many requests (a new intake, say), a chunk per
// transaction. Each item succeeds or fails on its own; an item with a
// SourceKey seen before returns the earlier request. Callers: as Raise.
func (s *Service) RaiseMany(ctx context.Context, p *authz.Principal, ins []Input) ([]ItemResult, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	if len(ins) > 20000 {
		return nil, errs.E(errs.Invalid, "Submit at most 20,000 requests at once")
	}
	out := make([]ItemResult, len(ins))
	err := s.chunks(ctx, len(ins), func(tx *store.Tx, start, end int) error {
		b := &raising{s: s, tx: tx, p: p, ins: ins[start:end], out: out[start:end]}
		return b.run(ctx)
	})
	return out, err
}

// raising is one chunk of a bulk raise. What the chunk's requests need to
// know (their people, record accounts, open requests and source keys) is
// read in three queries; each request is checked as Raise checks it, and
// those accepted are written together in a few statements. A request whose
// source key was seen before is raised on its own, as Raise would, which
// finds the earlier request.
type raising struct {
	s   *Service
	tx  *store.Tx
	p   *authz.Principal
	ins []Input
	out []ItemResult

	k     *known     // nil when it must be read again
	batch []*planned // accepted, not yet written
	at    []int      // their places in ins
}

func (b *raising) run(ctx context.Context) error {
	for i := range b.ins {
		if b.k == nil {
			var err error
			if b.k, err = b.s.readKnown(ctx, b.tx, b.ins[i:]); err != nil {
				return err
			}
		}
		pl, existing, err := b.s.planRaise(ctx, b.tx, b.p, b.ins[i], false, b.k)
		switch {
		case errors.Is(err, errOneByOne):
			if err := b.flush(ctx); err != nil {
				return err
			}
			if err := b.one(ctx, i); err != nil {
				return err
			}
		case errs.CodeOf(err) == errs.Internal && err != nil:
			return err
		case err != nil:
			b.out[i].Error = errs.As(err)
		case existing != nil:
			b.out[i].Request = existing
		default:
			b.batch, b.at = append(b.batch, pl), append(b.at, i)
		}
	}
	return b.flush(ctx)
}

// flush writes the requests accepted so far. Should one of them clash with
// a request raised meanwhile by someone else, the batch is undone and its
// requests raised one by one, which says which.
func (b *raising) flush(ctx context.Context) error {
	batch, at := b.batch, b.at
	b.batch, b.at = nil, nil
	if len(batch) == 0 {
		return nil
	}
	err := b.tx.Savepoint(ctx, func() error { return b.s.writeRaised(ctx, b.tx, b.p, batch) })
	if err == nil {
		for j, pl := range batch {
			b.out[at[j]].Request = pl.r
		}
		return nil
	}
	if !store.IsUniqueViolation(err) {
		return errs.Wrap(err, "insert requests")
	}
	b.k = nil // read again after these
	for _, i := range at {
		if err := b.one(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// one raises ins[i] on its own, in a savepoint, as Raise would.
func (b *raising) one(ctx context.Context, i int) error {
	var r *Request
	err := b.tx.Savepoint(ctx, func() error {
		var err error
		r, err = b.s.RaiseTx(ctx, b.tx, b.p, b.ins[i])
		return err
	})
	switch {
	case err == nil:
		b.out[i].Request = r
	case errs.CodeOf(err) == errs.Internal:
		return err
	default:
		b.out[i].Error = errs.As(err)
	}
	return nil
}

// known is what a bulk raise's chunk has read of the people and requests
// it names, kept up to date as its requests are accepted.
type known struct {
	users    map[string]string         // e-mail → user id ("" for none), for each e-mail read
	accounts map[string]*RecordAccount // user id → record account
	open     map[string]bool           // open key → in use, for each key read or accepted
	sources  map[string]bool           // source keys in use
}

// readKnown reads what the requests ins need to know, in three queries.
func (s *Service) readKnown(ctx context.Context, tx *store.Tx, ins []Input) (*known, error) {
	k := &known{users: map[string]string{}, accounts: map[string]*RecordAccount{}, open: map[string]bool{}, sources: map[string]bool{}}
	var emails, keys, sources []string
	for _, in := range ins {
		if sk := strings.TrimSpace(in.SourceKey); sk != "" {
			sources = append(sources, sk)
		}
		email, ok := auth.NormaliseEmail(in.Email)
		if !ok {
			continue
		}
		in.Email = email
		emails, keys = append(emails, email), append(keys, openKey(&in))
		k.users[email], k.open[keys[len(keys)-1]] = "", false
	}
	var userIDs []string
	if len(emails) > 0 {
		cond, args := store.In(s.db.Dialect, "email", emails)
		err := scanAll(ctx, tx, `SELECT id, email FROM users WHERE `+cond, args, func(sc scanner) error {
			var id, email string
			err := sc.Scan(&id, &email)
			k.users[email], userIDs = id, append(userIDs, id)
			return err
		})
		if err != nil {
			return nil, errs.Wrap(err, "read people")
		}
	}
	if len(userIDs) > 0 {
		cond, args := store.In(s.db.Dialect, "user_id", userIDs)
		err := scanAll(ctx, tx, `SELECT `+accountColumns+` FROM record_accounts WHERE `+cond, args, func(sc scanner) error {
			a, err := scanAccount(sc)
			if err == nil {
				k.accounts[a.UserID] = a
			}
			return err
		})
		if err != nil {
			return nil, errs.Wrap(err, "read record accounts")
		}
	}
	if cond, args := store.AnyIn(s.db.Dialect, store.Match{Col: "open_key", Vals: keys}, store.Match{Col: "source_key", Vals: sources}); cond != "" {
		err := scanAll(ctx, tx, `SELECT COALESCE(open_key, ''), COALESCE(source_key, '') FROM access_requests WHERE `+cond, args,
			func(sc scanner) error {
				var open, source string
				err := sc.Scan(&open, &source)
				if open != "" {
					k.open[open] = true
				}
				if source != "" {
					k.sources[source] = true
				}
				return err
			})
		if err != nil {
			return nil, errs.Wrap(err, "read open requests")
		}
	}
	return k, nil
}

type scanner interface{ Scan(...any) error }

// scanAll runs a query and calls fn for each row.
func scanAll(ctx context.Context, q store.Querier, query string, args []any, fn func(scanner) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// personOf returns the user id of the person with the e-mail address
// email ("" for none) and their record account (nil for none), from what a
// bulk raise knows or else from the database.
func (s *Service) personOf(ctx context.Context, tx *store.Tx, k *known, email string) (string, *RecordAccount, error) {
	if id, ok := k.user(email); ok {
		return id, k.accounts[id], nil
	}
	var subject string
	if u, err := s.users.UserByEmail(ctx, email); err == nil {
		subject = u.ID
	} else if errs.CodeOf(err) != errs.NotFound {
		return "", nil, err
	}
	if subject == "" {
		return "", nil, nil
	}
	acct, err := s.accountTx(ctx, tx, subject)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return "", nil, err
	}
	return subject, acct, nil
}

func (k *known) user(email string) (string, bool) {
	if k == nil {
		return "", false
	}
	id, ok := k.users[email]
	return id, ok
}

// openTaken reports whether an open request holds the open key.
func (s *Service) openTaken(ctx context.Context, tx *store.Tx, k *known, key string) (bool, error) {
	if k != nil {
		if taken, ok := k.open[key]; ok {
			return taken, nil
		}
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM access_requests WHERE open_key = ?`, key).Scan(&n); err != nil {
		return false, errs.Wrap(err, "check duplicates")
	}
	return n > 0, nil
}
