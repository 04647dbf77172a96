package notify

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
)

// deliverArgs is the job that delivers one outbox message. The outbox row is
// the truth (status, attempts, next attempt, last error); the job only wakes
// delivery up, so a lost or duplicated job loses or doubles nothing.
type deliverArgs struct {
	ID string `json:"id"`
}

func (deliverArgs) Kind() string { return "email_delivery" }

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	o *Outbox
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	return w.o.deliver(ctx, job.Args.ID)
}

// deliver makes one delivery attempt of message id when it is due, and
// decides what happens next: sent, another attempt later (the job sleeps
// until then), or failed for good.
func (o *Outbox) deliver(ctx context.Context, id string) error {
	var e Envelope
	var kind, status string
	var attempts, sensitive int
	var createdAt, nextAt int64
	err := o.db.QueryRow(ctx, `SELECT to_addr, subject, text_body, html_body, kind, status, attempts, created_at, next_attempt_at, sensitive
		FROM outbox WHERE id = ?`, id).Scan(&e.To, &e.Subject, &e.Text, &e.HTML, &kind, &status, &attempts, &createdAt, &nextAt, &sensitive)
	if store.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read message %s: %w", id, err)
	}
	if status != StatusPending {
		return nil // already sent or given up: this job is a duplicate
	}
	now := o.clock.Now()
	if wait := time.UnixMicro(nextAt).Sub(now); wait > 0 {
		return river.JobSnooze(min(wait, o.retry.Recheck))
	}
	e.ID = id
	sendErr := o.mailer.Send(ctx, e)
	if sendErr != nil && ctx.Err() != nil {
		// Stopped mid-attempt (shutdown, job timeout): not the server's
		// fault, so not counted; the job runs again at the next start.
		return river.JobSnooze(0)
	}
	now = o.clock.Now()
	attempts++
	if sendErr == nil {
		return o.markSent(ctx, id, kind, attempts, now, sensitive == 1)
	}
	reason := shorten(sendErr.Error(), 500)
	if now.Sub(time.UnixMicro(createdAt)) >= o.retry.GiveUpAfter {
		return o.markFailed(ctx, id, kind, e.To, attempts, reason, sensitive == 1)
	}
	wait := o.retry.after(attempts)
	if _, err := o.db.Exec(ctx, `UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'`,
		attempts, reason, now.Add(wait).UnixMicro(), id); err != nil {
		return fmt.Errorf("record failed delivery of %s: %w", id, err)
	}
	o.log.Warn("e-mail not accepted by the SMTP server; will retry", "message_id", id, "kind", kind,
		"attempts", attempts, "retry_in", wait.String(), "err", reason)
	return river.JobSnooze(min(wait, o.retry.Recheck))
}

// bodiesErased is the SQL that forgets the bodies of a message carrying a
// secret once it can no longer be sent: a copy of the database then holds
// no one-time password that has been delivered (or given up on).
const bodiesErased = `, text_body = '', html_body = ''`

// markSent records that the server accepted the message. If this update
// fails after the server accepted it, the job is retried and the message
// may be sent twice (with the same Message-ID); never zero times.
func (o *Outbox) markSent(ctx context.Context, id, kind string, attempts int, now time.Time, sensitive bool) error {
	q := `UPDATE outbox SET status = 'sent', sent_at = ?, attempts = ?, last_error = ''`
	if sensitive {
		q += bodiesErased
	}
	if _, err := o.db.Exec(ctx, q+` WHERE id = ? AND status = 'pending'`, now.UnixMicro(), attempts, id); err != nil {
		return fmt.Errorf("record delivery of %s: %w", id, err)
	}
	o.log.Info("e-mail sent", "message_id", id, "kind", kind, "attempts", attempts)
	return nil
}

// markFailed gives up on a message and audits it, in one transaction.
func (o *Outbox) markFailed(ctx context.Context, id, kind, to string, attempts int, reason string, sensitive bool) error {
	q := `UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?`
	if sensitive {
		q += bodiesErased
	}
	err := o.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, q+` WHERE id = ? AND status = 'pending'`, attempts, reason, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || o.audit == nil {
			return nil
		}
		return o.audit.Record(ctx, tx, audit.New(audit.System, "email.failed", "email", id, audit.Failure,
			map[string]string{"kind": kind, "to": to, "attempts": strconv.Itoa(attempts), "error": reason}))
	})
	if err != nil {
		return fmt.Errorf("record that %s failed: %w", id, err)
	}
	o.log.Error("e-mail given up: the SMTP server did not accept it in time", "message_id", id, "kind", kind,
		"attempts", attempts, "err", reason)
	return nil
}

// sweep queues a delivery for every pending message that is due and has
// none: those kept while no SMTP server was configured, and any whose job
// was lost. Messages whose job is queued or waiting are skipped by the
// job's uniqueness.
func (o *Outbox) sweep(ctx context.Context, now time.Time) error {
	const batch = 500
	after := ""
	for {
		rows, err := o.db.Query(ctx, `SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? AND id > ?
			ORDER BY id LIMIT `+strconv.Itoa(batch), now.UnixMicro(), after)
		if err != nil {
			return fmt.Errorf("sweep outbox: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := o.db.InTx(ctx, func(tx *store.Tx) error { return o.queueDeliveries(ctx, tx, ids) }); err != nil {
			return fmt.Errorf("sweep outbox: %w", err)
		}
		if len(ids) < batch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// shorten cuts s to at most n bytes on a character boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
