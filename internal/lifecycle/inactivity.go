package lifecycle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// RuleInactivity and RuleInactivityWarning name the inactivity rules in
// audit events, with the configured number of days:
// "inactivity_90_days" and "inactivity_warning_14_days".
func (s *Service) RuleInactivity() string {
	return fmt.Sprintf("inactivity_%d_days", s.cfg.InactivityDays)
}

// RuleInactivityWarning: see RuleInactivity.
func (s *Service) RuleInactivityWarning() string {
	return fmt.Sprintf("inactivity_warning_%d_days", s.cfg.InactivityWarningDays)
}

// account is a record account a rule changed.
type account struct {
	user, org string
	idleFrom  int64
	finishing string
}

// changed is what one batch of an account rule changed: the accounts, the
// people they belong to, and (when asked for) who is told about each.
type changed struct {
	list   []account
	people map[string]person
	over   map[string][]overseer
}

// changeAccounts runs q, an UPDATE of record_accounts RETURNING user_id,
// organisation_id and then idle_from (idle) or finishing_date, and reads
// the people it changed and, with tell, their overseers. An empty batch
// has an empty list.
func (s *Service) changeAccounts(ctx context.Context, tx *store.Tx, what string, idle, tell bool, q string, args ...any) (*changed, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, errs.Wrap(err, what)
	}
	c := &changed{}
	for rows.Next() {
		var a account
		if idle {
			err = rows.Scan(&a.user, &a.org, &a.idleFrom)
		} else {
			err = rows.Scan(&a.user, &a.org, &a.finishing)
		}
		if err != nil {
			rows.Close()
			return nil, errs.Wrap(err, what)
		}
		c.list = append(c.list, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, what)
	}
	if len(c.list) == 0 {
		return c, nil
	}
	subjects := make(map[string]string, len(c.list))
	ids := make([]string, len(c.list))
	for i, a := range c.list {
		subjects[a.user], ids[i] = a.org, a.user
	}
	if c.people, err = s.people(ctx, tx, ids); err != nil {
		return nil, err
	}
	if tell {
		if c.over, err = s.overseers(ctx, tx, subjects); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// users returns the user ids of the batch.
func (c *changed) users() []string {
	ids := make([]string, len(c.list))
	for i, a := range c.list {
		ids[i] = a.user
	}
	return ids
}

// deactivateInactive deactivates every active record account whose
// inactivity clock (idle_from: the later of activation and last use) started
// InactivityDays or more ago: exactly at 90 days it is deactivated. A
// pending account has no clock (it is not active) and is never swept. Only
// the record account changes: the person's memberships stay, so they still
// sign in to the portal and train, and their portal sessions are kept. The
// effects are those of the back office's deactivation (access), set-based.
// An account whose finishing date has come is left to endFinished.
func (s *Service) deactivateInactive(ctx context.Context, now time.Time, r *Result) error {
	t, cutoff, today := micros(now), micros(now.Add(-days(s.cfg.InactivityDays))), s.localDate(now)
	// idle_from > 0 guards an active account without a clock, which should
	// not exist. The outer conditions re-check each row, so a use recorded
	// meanwhile (access.Service.MarkUsed) saves the account.
	due := `status = 'active' AND idle_from > 0 AND idle_from <= ? AND (finishing_date = '' OR finishing_date > ?)`
	q := s.update("record_accounts") + ` SET status = 'deactivated', status_reason = 'inactivity', updated_at = ?, deactivated_at = ?
		WHERE ` + s.pick("record_accounts", due, "idle_from") + ` AND ` + due + `
		RETURNING user_id, organisation_id, idle_from`
	rule := s.RuleInactivity()
	return s.batches(ctx, lockInactivity, r, &r.InactiveDeactivated, nil, func(tx *store.Tx, limit int) (counts, error) {
		c, err := s.changeAccounts(ctx, tx, "deactivate inactive accounts", true, true, q, t, t, cutoff, today, limit, cutoff, today)
		if err != nil || len(c.list) == 0 {
			return counts{}, err
		}
		list, ps, over := c.list, c.people, c.over
		why := fmt.Sprintf("because it has not been used for %d days", s.cfg.InactivityDays)
		next := "You can still sign in to CareGate and keep your training up to date. To use the record again, ask your site authoriser to reactivate your access; your completed training is kept."
		ms := make([]notify.Message, 0, len(list))
		d := newDigest()
		for _, a := range list {
			since := time.UnixMicro(a.idleFrom).UTC()
			if err := s.log.Record(ctx, tx, audit.New(audit.System, "record_account."+access.AccountDeactivated, "user", a.user, audit.Success,
				map[string]string{"reason": access.ReasonInactivity, "rule": rule, "idle_since": since.Format(time.RFC3339),
					"told": strconv.Itoa(len(over[a.user]))})); err != nil {
				return counts{}, err
			}
			p, ok := ps[a.user]
			if !ok {
				continue
			}
			ms = append(ms, notify.Message{To: p.email, Kind: notify.KindAccessEnded, RelatedType: "user", RelatedID: a.user,
				Data: map[string]string{"Name": p.name, "Service": s.cfg.ServiceName, "Why": why + " (last used or activated on " + s.longDate(since) + ")",
					"Next": next, "Link": s.link("/signin")}})
			for _, o := range over[a.user] {
				d.add(o, line(p, o, ""))
			}
		}
		ms = append(ms, d.messages(notify.KindMembersAccessEnded, map[string]string{"Service": s.cfg.ServiceName,
			"Why":  fmt.Sprintf("because their accounts had not been used for %d days", s.cfg.InactivityDays),
			"Next": "They can still sign in to CareGate and train. If they still need the record, reactivate them from the membership history of your site; their completed training is kept.",
			"Link": s.link("/sites")})...)
		n, err := s.enqueue(ctx, tx, ms)
		return counts{changed: len(list), emails: n}, err
	})
}

// warnInactive warns, once, each member whose active record account will be
// deactivated for inactivity within InactivityWarningDays. The warning is
// marked on the account (inactivity_warned_at); a use of the record clears
// the mark and moves the clock, so a later spell of inactivity is warned of
// again. An account already due for deactivation, or whose finishing date
// has come, is not warned: it ends in the same sweep.
func (s *Service) warnInactive(ctx context.Context, now time.Time, r *Result) error {
	t, today := micros(now), s.localDate(now)
	ends := micros(now.Add(-days(s.cfg.InactivityDays)))
	cutoff := micros(now.Add(-days(s.cfg.InactivityDays - s.cfg.InactivityWarningDays)))
	// SQLite walks record_accounts_unwarned; PostgreSQL walks
	// record_accounts_idle over the warning window and skips the accounts
	// warned already, so that the warning changes no indexed column and is
	// a HOT update (migration 0011).
	due := `status = 'active' AND inactivity_warned_at = 0 AND idle_from > ? AND idle_from <= ?
		AND (finishing_date = '' OR finishing_date > ?)`
	q := s.update("record_accounts") + ` SET inactivity_warned_at = ?
		WHERE ` + s.pick("record_accounts", due, "idle_from") + ` AND ` + due + `
		RETURNING user_id, organisation_id, idle_from`
	rule := s.RuleInactivityWarning()
	return s.batches(ctx, lockInactivityWarning, r, &r.InactivityWarned, nil, func(tx *store.Tx, limit int) (counts, error) {
		c, err := s.changeAccounts(ctx, tx, "warn inactive accounts", true, false, q, t, ends, cutoff, today, limit, ends, cutoff, today)
		if err != nil || len(c.list) == 0 {
			return counts{}, err
		}
		list, ps := c.list, c.people
		ms := make([]notify.Message, 0, len(list))
		for _, a := range list {
			on := time.UnixMicro(a.idleFrom).Add(days(s.cfg.InactivityDays))
			if err := s.log.Record(ctx, tx, audit.New(audit.System, "record_account.inactivity_warning", "user", a.user, audit.Success,
				map[string]string{"rule": rule, "deactivates_at": on.UTC().Format(time.RFC3339)})); err != nil {
				return counts{}, err
			}
			p, ok := ps[a.user]
			if !ok {
				continue
			}
			ms = append(ms, notify.Message{To: p.email, Kind: notify.KindInactivityWarning, RelatedType: "user", RelatedID: a.user,
				Data: map[string]string{"Name": p.name, "Service": s.cfg.ServiceName, "On": s.longDate(on),
					"Days": strconv.Itoa(s.cfg.InactivityDays), "Link": s.link("/signin")}})
		}
		n, err := s.enqueue(ctx, tx, ms)
		return counts{changed: len(list), emails: n}, err
	})
}
