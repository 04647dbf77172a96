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
}

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
// before, whatever became of it, is not asked for again. needed returns nil
// when nothing is to be asked for.
func needed(ctx context.Context, q store.Querier, per *person, want string) (*need, error) {
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
	raised := func(m *membership) (bool, error) {
		var n int
		err := q.QueryRow(ctx, `SELECT COUNT(*) FROM access_requests WHERE source_key = ?`, SourceKey(per.userID, m.id)).Scan(&n)
		return n > 0, errs.Wrap(err, "find earlier request")
	}
	if !per.hasAccount() {
		n := &need{typ: access.TypeNewUser}
		for _, m := range active {
			done, err := raised(m)
			if err != nil {
				return nil, err
			}
			if !done {
				n.m = m
				return n, nil
			}
		}
		if len(active) > 0 {
			n.m = active[0]
		}
		return n, nil
	}
	var granted map[string]bool
	for _, m := range active {
		switch {
		case per.acct.status == access.AccountDeactivated:
			if m.joined <= per.acct.updated {
				continue
			}
		case m.orgID == per.acct.orgID:
			continue
		default:
			if granted == nil {
				var err error
				if granted, err = grantedOrganisations(ctx, q, per.userID); err != nil {
					return nil, err
				}
			}
			if granted[m.orgID] {
				continue
			}
		}
		done, err := raised(m)
		if err != nil {
			return nil, err
		}
		if done {
			continue
		}
		if per.acct.status == access.AccountDeactivated {
			return &need{typ: access.TypeReactivation, m: m}, nil
		}
		return &need{typ: access.TypeNewUser, m: m, newAccess: true}, nil
	}
	return nil, nil
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
