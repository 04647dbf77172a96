package lifecycle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// RuleFinishingDate names the rule that ends access on a finishing date in
// audit events.
const RuleFinishingDate = "finishing_date"

// RuleFinishingReminder names the reminder rule with its configured number
// of days: "finishing_date_reminder_14_days".
func (s *Service) RuleFinishingReminder() string {
	return fmt.Sprintf("finishing_date_reminder_%d_days", s.cfg.FinishingReminderDays)
}

// endFinished ends every pending or active record account whose finishing
// date (a local date) is today or earlier: it is deactivated with reason
// end_of_contract, and the person's active memberships whose own finishing
// date has come are deactivated too (ended by the system). Memberships
// without a finishing date, at other sites, stay.
func (s *Service) endFinished(ctx context.Context, now time.Time, r *Result) error {
	t, today := micros(now), s.localDate(now)
	// The terms status IN (…) AND finishing_date <> '' are those of the
	// partial index record_accounts_finishing, so that SQLite uses it.
	due := `status IN ('pending', 'active') AND finishing_date <> '' AND finishing_date <= ?`
	q := s.update("record_accounts") + ` SET status = 'deactivated', status_reason = 'end_of_contract', updated_at = ?, deactivated_at = ?
		WHERE ` + s.pick("record_accounts", due, "finishing_date") + ` AND ` + due + `
		RETURNING user_id, organisation_id, finishing_date`
	endMemberships := s.update("memberships") + ` SET status = 'deactivated', status_reason = 'end_of_contract', ended_by = 'system', ended_at = ?, updated_at = ?
		WHERE %s AND status = 'active' AND finishing_date <> '' AND finishing_date <= ?
		RETURNING id, user_id, site_id`
	return s.batches(ctx, lockFinishingDate, r, &r.FinishedAccounts, &r.FinishedMemberships, func(tx *store.Tx, limit int) (counts, error) {
		// Overseers are read before the memberships end: the authorisers
		// told are those of the sites where the person was active.
		c, err := s.changeAccounts(ctx, tx, "end accounts at their finishing date", false, true, q, t, t, today, limit, today)
		if err != nil || len(c.list) == 0 {
			return counts{}, err
		}
		list, ps, over := c.list, c.people, c.over
		for _, a := range list {
			if err := s.log.Record(ctx, tx, audit.New(audit.System, "record_account."+access.AccountDeactivated, "user", a.user, audit.Success,
				map[string]string{"reason": access.ReasonEndOfContract, "rule": RuleFinishingDate, "finishing_date": a.finishing,
					"told": strconv.Itoa(len(over[a.user]))})); err != nil {
				return counts{}, err
			}
		}
		mail := make([]notify.Message, 0, len(list))
		d := newDigest()
		next := "You can still sign in to CareGate. If your work continues, ask your site authoriser to reactivate your access with a new finishing date; your completed training is kept."
		for _, a := range list {
			p, ok := ps[a.user]
			if !ok {
				continue
			}
			mail = append(mail, notify.Message{To: p.email, Kind: notify.KindAccessEnded, RelatedType: "user", RelatedID: a.user,
				Data: map[string]string{"Name": p.name, "Service": s.cfg.ServiceName,
					"Why": "because your finishing date, " + longDay(a.finishing) + ", has come", "Next": next, "Link": s.link("/signin")}})
			for _, o := range over[a.user] {
				d.add(o, line(p, o, "finishing date "+longDay(a.finishing)))
			}
		}
		mail = append(mail, d.messages(notify.KindMembersAccessEnded, map[string]string{"Service": s.cfg.ServiceName,
			"Why":  "because their finishing dates have come",
			"Next": "If someone's work continues, reactivate them from the membership history of your site with a new finishing date; their completed training is kept.",
			"Link": s.link("/sites")})...)
		n, err := s.enqueue(ctx, tx, mail)
		if err != nil {
			return counts{}, err
		}
		// The e-mails are rendered while the memberships end.
		cond, args := store.In(s.db.Dialect, "user_id", c.users())
		ended, err := s.auditReturned(ctx, tx, "end memberships at their finishing date", fmt.Sprintf(endMemberships, cond),
			append(append([]any{t, t}, args...), today), func(row scanner) (audit.Event, error) {
				var id, user, site string
				err := row.Scan(&id, &user, &site)
				return audit.New(audit.System, "membership.deactivate", "membership", id, audit.Success,
					map[string]string{"reason": access.ReasonEndOfContract, "rule": RuleFinishingDate, "user_id": user, "site_id": site}), err
			})
		return counts{changed: len(list), emails: n, extra: ended}, err
	})
}

// remindFinishing reminds the authorisers of each person whose record
// account ends within FinishingReminderDays (or, where the person has no
// authoriser, their organisation's service desk), so that they can extend
// it. The reminded date is kept on the account (finish_reminded_for): each
// date is reminded once, and an extended date is reminded again.
func (s *Service) remindFinishing(ctx context.Context, now time.Time, r *Result) error {
	today := s.localDate(now)
	horizon := now.In(s.loc).AddDate(0, 0, s.cfg.FinishingReminderDays).Format(time.DateOnly)
	due := `status IN ('pending', 'active') AND finishing_date <> '' AND finishing_date > ? AND finishing_date <= ?
		AND finish_reminded_for <> finishing_date`
	q := s.update("record_accounts") + ` SET finish_reminded_for = finishing_date
		WHERE ` + s.pick("record_accounts", due, "finishing_date") + ` AND ` + due + `
		RETURNING user_id, organisation_id, finishing_date`
	rule := s.RuleFinishingReminder()
	return s.batches(ctx, lockFinishingReminder, r, &r.FinishingReminded, nil, func(tx *store.Tx, limit int) (counts, error) {
		c, err := s.changeAccounts(ctx, tx, "remind of finishing dates", false, true, q, today, horizon, limit, today, horizon)
		if err != nil || len(c.list) == 0 {
			return counts{}, err
		}
		list, ps, over := c.list, c.people, c.over
		d := newDigest()
		for _, a := range list {
			if err := s.log.Record(ctx, tx, audit.New(audit.System, "record_account.finishing_reminder", "user", a.user, audit.Success,
				map[string]string{"rule": rule, "finishing_date": a.finishing, "told": strconv.Itoa(len(over[a.user]))})); err != nil {
				return counts{}, err
			}
			p, ok := ps[a.user]
			if !ok {
				continue
			}
			for _, o := range over[a.user] {
				d.add(o, line(p, o, "ends on "+longDay(a.finishing)))
			}
		}
		n, err := s.enqueue(ctx, tx, d.messages(notify.KindFinishingReminder, map[string]string{"Service": s.cfg.ServiceName,
			"Days": strconv.Itoa(s.cfg.FinishingReminderDays), "Link": s.link("/sites")}))
		return counts{changed: len(list), emails: n}, err
	})
}
