package training

import (
	"context"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// need is what the gate asks the back office for, once a person's training
// is complete.
type need struct {
	typ string      // access.TypeNewUser or access.TypeReactivation
	m   *membership // the membership it is for; nil when they have no active one
	// newAccess marks a new-user request for someone whose live record
	// account is held for another organisation: an existing user at a new
	// site. Their account is extended, not created (see access's grant).
	newAccess bool
	// before is the request the gate raised for m earlier, when it was
	// (only for someone without a record account, every one of whose
	// active memberships was asked for): the gate says what became of it.
	before *earlier
}

// earlier is a request the gate raised before.
type earlier struct{ ref, state string }

// needed decides what access a trained person must be asked for, if any,
// and for which of their active memberships; want, if not "", is the one to
// prefer (the membership an accepted invitation has just made).
//   - No record account, or a deleted one (a returning leaver): a new-user
//     request, for want or else their first active membership not yet asked
//     for (or, when all were, the first: the gate says what became of it).
//   - A deactivated account: a reactivation request for an active membership
//     that began after the account was deactivated (they came back, to a
//     site of any organisation); their completed training is kept. A member
//     whose account a rule deactivated while they stayed is reactivated by
//     their authoriser instead.
//   - A live (pending or active) account: a new-user request — new access —
//     for an active membership of another organisation than the account's,
//     unless a new-user or reactivation request for that organisation about
//     them was completed (it was granted before).
//
// In the last two cases a membership the gate has raised a request for
// before, whatever became of it, is not asked for again. Those requests are
// read once, in one query, when first needed. needed returns nil
// when nothing is to be asked for.
//
// The hourly sweep's raiseReady picks its candidates with the same cases
// written as SQL: a change to one must be made to the other.
func needed(ctx context.Context, tx *store.Tx, per *person, want string) (*need, error) {
	var active []*membership
	for i := range per.memberships {
		if m := &per.memberships[i]; m.status == "active" {
			if m.id == want {
				active = append([]*membership{m}, active...)
			} else {
				active = append(active, m)
			}
		}
	}
	// The requests the gate raised before for the active memberships, read
	// at the first need of them, in one query.
	var raised map[string]*earlier // membership id → its request
	before := func(m *membership) (*earlier, error) {
		if raised == nil {
			var err error
			if raised, err = raisedFor(ctx, tx, per.userID, active); err != nil {
				return nil, err
			}
		}
		return raised[m.id], nil
	}
	if !per.hasAccount() {
		n := &need{typ: access.TypeNewUser}
		for _, m := range active {
			e, err := before(m)
			if err != nil {
				return nil, err
			}
			if e == nil {
				n.m = m
				return n, nil
			}
		}
		if len(active) > 0 {
			n.m = active[0]
			n.before = raised[n.m.id]
		}
		return n, nil
	}
	var granted map[string]bool
	for _, m := range active {
		switch {
		case per.acct.status == access.AccountDeactivated:
			if m.joined <= per.acct.deactivated {
				continue
			}
		case m.orgID == per.acct.orgID:
			continue
		default:
			if granted == nil {
				var err error
				if granted, err = grantedOrganisations(ctx, tx, per.userID); err != nil {
					return nil, err
				}
			}
			if granted[m.orgID] {
				continue
			}
		}
		e, err := before(m)
		if err != nil {
			return nil, err
		}
		if e != nil {
			continue
		}
		if per.acct.status == access.AccountDeactivated {
			return &need{typ: access.TypeReactivation, m: m}, nil
		}
		return &need{typ: access.TypeNewUser, m: m, newAccess: true}, nil
	}
	return nil, nil
}

// raisedFor returns the requests the gate raised before for the person's
// memberships ms, by membership id, found by their source keys.
func raisedFor(ctx context.Context, tx *store.Tx, userID string, ms []*membership) (map[string]*earlier, error) {
	out := map[string]*earlier{}
	if len(ms) == 0 {
		return out, nil
	}
	keys := make([]string, len(ms))
	byKey := make(map[string]string, len(ms))
	for i, m := range ms {
		keys[i] = SourceKey(userID, m.id)
		byKey[keys[i]] = m.id
	}
	cond, args := store.In(tx.Dialect(), "source_key", keys)
	rows, err := tx.Query(ctx, `SELECT source_key, ref, state FROM access_requests WHERE `+cond, args...)
	if err != nil {
		return nil, errs.Wrap(err, "find earlier requests")
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var e earlier
		if err := rows.Scan(&key, &e.ref, &e.state); err != nil {
			return nil, errs.Wrap(err, "find earlier requests")
		}
		out[byKey[key]] = &e
	}
	return out, errs.Wrap(rows.Err(), "find earlier requests")
}

// grantedOrganisations returns the organisations for which a new-user or
// reactivation request about the person was completed.
func grantedOrganisations(ctx context.Context, q store.Querier, userID string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT organisation_id FROM access_requests
		WHERE subject_user_id = ? AND type IN ('new_user', 'reactivation') AND state = 'completed'`, userID)
	if err != nil {
		return nil, errs.Wrap(err, "find granted organisations")
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, errs.Wrap(err, "find granted organisations")
		}
		out[id] = true
	}
	return out, rows.Err()
}
