package training

import (
	"context"
	"errors"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// Reminder lead times before a completion lapses.
const (
	FirstReminder  = 30 * 24 * time.Hour
	SecondReminder = 7 * 24 * time.Hour
)

// SweepResult counts what one sweep did.
type SweepResult struct {
	Reminders int // reminder e-mails queued
	Lapses    int // lapses recorded
	Requests  int // access requests raised for people whose training was already complete
}

// Sweep is the periodic work of training (hourly): it queues the reminder
// e-mails 30 and 7 days before a completion lapses, each once; records
// each lapse once in the audit trail (a lapsed completion already counts as
// incomplete when read; this makes the moment visible); and runs the gate
// for people whose training is complete but who have no request yet
// (a suspension that has ended, a rule removed that was their last
// outstanding module). now is CareGate's clock. Every change is made with a
// conditional update in its own transaction, so a sweep that runs twice, or
// in two processes at once, sends nothing twice.
func (s *Service) Sweep(ctx context.Context, now time.Time) error {
	_, err := s.SweepOnce(ctx, now)
	return err
}

// SweepOnce is Sweep, reporting what it did.
func (s *Service) SweepOnce(ctx context.Context, now time.Time) (SweepResult, error) {
	var res SweepResult
	var errList []error
	n, err := s.remind(ctx, now)
	res.Reminders = n
	errList = append(errList, err)
	n, err = s.lapse(ctx, now)
	res.Lapses = n
	errList = append(errList, err)
	n, err = s.raiseReady(ctx, now)
	res.Requests = n
	errList = append(errList, err)
	return res, errors.Join(errList...)
}

type due struct {
	user, module string
	expires      int64
	r30, r7      int64
}

// remind queues the reminders that are due. When both are due at once (the
// first sweep after a long pause), only the nearer, 7-day one is sent.
func (s *Service) remind(ctx context.Context, now time.Time) (int, error) {
	n := now.UnixMicro()
	rows, err := s.db.Query(ctx, `SELECT c.user_id, c.module_id, c.expires_at, c.reminded_30, c.reminded_7 FROM training_completions c
		JOIN training_modules m ON m.id = c.module_id
		WHERE m.status = 'published' AND c.expires_at > ? AND c.expires_at <= ?
		AND (c.reminded_30 = 0 OR (c.reminded_7 = 0 AND c.expires_at <= ?))
		ORDER BY c.expires_at, c.user_id, c.module_id`, n, now.Add(FirstReminder).UnixMicro(), now.Add(SecondReminder).UnixMicro())
	if err != nil {
		return 0, errs.Wrap(err, "find reminders")
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.user, &d.module, &d.expires, &d.r30, &d.r7); err != nil {
			rows.Close()
			return 0, errs.Wrap(err, "scan reminder")
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, errs.Wrap(err, "find reminders")
	}
	if len(list) == 0 {
		return 0, nil
	}
	cat, err := loadCatalogue(ctx, s.db)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, d := range list {
		sevenDay := d.r7 == 0 && d.expires <= now.Add(SecondReminder).UnixMicro()
		ok, err := s.remindOne(ctx, cat, d, sevenDay, now)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// remindOne queues one reminder, if the module is still assigned to the
// person and no other sweep has sent it meanwhile.
func (s *Service) remindOne(ctx context.Context, cat *catalogue, d due, sevenDay bool, now time.Time) (bool, error) {
	sent := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		per, err := loadPerson(ctx, tx, d.user)
		if err != nil {
			return err
		}
		assignedNow := false
		for _, a := range cat.assign(per) {
			assignedNow = assignedNow || a.m.id == d.module
		}
		n := now.UnixMicro()
		// Marked as handled either way: a module no longer assigned is not
		// reminded about later either.
		q := `UPDATE training_completions SET reminded_30 = ? WHERE user_id = ? AND module_id = ? AND expires_at = ? AND reminded_30 = 0`
		days := "30"
		if sevenDay {
			q = `UPDATE training_completions SET reminded_7 = ?, reminded_30 = CASE WHEN reminded_30 = 0 THEN ? ELSE reminded_30 END
				WHERE user_id = ? AND module_id = ? AND expires_at = ? AND reminded_7 = 0`
			days = "7"
		}
		args := []any{n, d.user, d.module, d.expires}
		if sevenDay {
			args = append([]any{n}, args...)
		}
		res, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return errs.Wrap(err, "mark reminder")
		}
		if k, _ := res.RowsAffected(); k != 1 || !assignedNow {
			return nil
		}
		m := cat.byID[d.module]
		data := map[string]string{"Name": per.name(), "Module": m.title, "LapsesOn": day(utc(d.expires)), "Days": days,
			"Link": s.link("/training/modules/" + d.module)}
		if _, err := s.outbox.Enqueue(ctx, tx, notify.Message{To: per.email, Kind: notify.KindTrainingReminder, Data: data,
			RelatedType: "training_module", RelatedID: d.module}); err != nil {
			return errs.Wrap(err, "queue reminder")
		}
		sent = true
		return nil
	})
	return sent, err
}

// lapse records, once each, the completions that have lapsed.
func (s *Service) lapse(ctx context.Context, now time.Time) (int, error) {
	n := now.UnixMicro()
	rows, err := s.db.Query(ctx, `SELECT user_id, module_id, expires_at FROM training_completions
		WHERE expires_at > 0 AND expires_at <= ? AND lapsed_at = 0 ORDER BY expires_at, user_id, module_id`, n)
	if err != nil {
		return 0, errs.Wrap(err, "find lapses")
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.user, &d.module, &d.expires); err != nil {
			rows.Close()
			return 0, errs.Wrap(err, "scan lapse")
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, errs.Wrap(err, "find lapses")
	}
	done := 0
	for _, d := range list {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			res, err := tx.Exec(ctx, `UPDATE training_completions SET lapsed_at = ? WHERE user_id = ? AND module_id = ? AND expires_at = ? AND lapsed_at = 0`,
				n, d.user, d.module, d.expires)
			if err != nil {
				return errs.Wrap(err, "record lapse")
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil
			}
			done++
			return s.log.Record(ctx, tx, audit.New(audit.System, "training.lapse", "training_module", d.module, audit.Success,
				map[string]string{"user_id": d.user, "lapsed_at": utc(d.expires).Format(time.RFC3339)}))
		})
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// raiseReady runs the gate for people who might be ready: at least one
// completion, no open request, and an active membership with none raised
// by training for it, which the gate would ask access for (see needed): they
// have no record account (or a deleted one); or it began after their account
// was deactivated; or it is of another organisation than their live
// account's, one not granted to them before. So a request the gate could not
// raise when it ran (another request was open, new requests were suspended)
// is raised later. Most candidates are people still training; the gate finds
// they are not ready and changes nothing.
func (s *Service) raiseReady(ctx context.Context, now time.Time) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id JOIN sites st ON st.id = m.site_id
		LEFT JOIN record_accounts a ON a.user_id = m.user_id
		WHERE m.status = 'active'
		AND EXISTS (SELECT 1 FROM training_completions c WHERE c.user_id = m.user_id)
		AND NOT EXISTS (SELECT 1 FROM access_requests r WHERE (r.subject_user_id = m.user_id OR r.email = u.email)
			AND `+access.OpenSQL("r.")+`)
		AND NOT EXISTS (SELECT 1 FROM access_requests r WHERE r.source_key = ? || m.user_id || ':' || m.id)
		AND (a.user_id IS NULL OR a.status = 'deleted'
			OR (a.status = 'deactivated' AND m.joined_at > a.deactivated_at)
			OR (a.status IN ('pending', 'active') AND st.organisation_id <> a.organisation_id
				AND NOT EXISTS (SELECT 1 FROM access_requests g WHERE g.subject_user_id = m.user_id AND g.organisation_id = st.organisation_id
					AND g.type IN ('new_user', 'reactivation') AND g.state = 'completed')))
		ORDER BY m.user_id`, sourcePrefix)
	if err != nil {
		return 0, errs.Wrap(err, "find people ready")
	}
	var users []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return 0, errs.Wrap(err, "scan person")
		}
		users = append(users, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, errs.Wrap(err, "find people ready")
	}
	if len(users) == 0 {
		return 0, nil
	}
	cat, err := loadCatalogue(ctx, s.db)
	if err != nil {
		return 0, err
	}
	raised := 0
	for start := 0; start < len(users); start += readyBatch {
		part := users[start:min(start+readyBatch, len(users))]
		// Read first, all at once and outside a transaction, so that only
		// people who are ready take the write lock.
		people, err := loadPeople(ctx, s.db, peopleIn(s.db.Dialect, part))
		if err != nil {
			return raised, err
		}
		for _, u := range part {
			if per := people[u]; per == nil || !trained(cat, per, now) {
				continue
			}
			// The gate reads the person again under their lock: what was
			// read above may have changed since (a membership ended, a
			// request raised by their completion at this moment).
			err = s.db.InTx(ctx, func(tx *store.Tx) error {
				g, err := s.RaiseIfReadyTx(ctx, tx, u, "")
				if g != nil && g.Raised {
					raised++
				}
				return err
			})
			if err != nil {
				return raised, err
			}
		}
	}
	return raised, nil
}

// readyBatch bounds the people the sweep reads at once.
const readyBatch = 500
