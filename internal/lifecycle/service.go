package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// Service runs the automatic rules.
type Service struct {
	db     *store.DB
	log    *audit.Log
	clock  clock.Clock
	outbox *notify.Outbox
	slog   *slog.Logger
	cfg    Config
	loc    *time.Location
}

// NewService returns the service, or an error if cfg is not valid. logger
// may be nil.
func NewService(db *store.DB, log *audit.Log, c clock.Clock, outbox *notify.Outbox, logger *slog.Logger, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	loc, _ := time.LoadLocation(cfg.TimeZone) // checked by Validate
	if logger == nil {
		logger = slog.Default()
	}
	if c == nil {
		c = clock.System{}
	}
	return &Service{db: db, log: log, clock: c, outbox: outbox, slog: logger, cfg: cfg, loc: loc}, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Result counts what one sweep did.
type Result struct {
	InvitationsExpired  int `json:"invitations_expired"`
	InactivityWarned    int `json:"inactivity_warned"`
	InactiveDeactivated int `json:"inactive_deactivated"`
	FinishingReminded   int `json:"finishing_reminded"`
	FinishedAccounts    int `json:"finished_accounts"`
	FinishedMemberships int `json:"finished_memberships"`
	Emails              int `json:"emails"`
}

// Add adds x's counts to r (two sweeps' together).
func (r *Result) Add(x Result) {
	r.InvitationsExpired += x.InvitationsExpired
	r.InactivityWarned += x.InactivityWarned
	r.InactiveDeactivated += x.InactiveDeactivated
	r.FinishingReminded += x.FinishingReminded
	r.FinishedAccounts += x.FinishedAccounts
	r.FinishedMemberships += x.FinishedMemberships
	r.Emails += x.Emails
}

// Changed reports whether the sweep changed anything.
func (r Result) Changed() bool { return r != Result{} }

// Sweep applies every rule that is due by the service's clock. Callers:
// tests and demo mode; the job runner calls Job.
func (s *Service) Sweep(ctx context.Context) (Result, error) {
	return s.SweepAt(ctx, s.clock.Now())
}

// SweepAt applies every rule that is due at now. The rules' conditions are
// disjoint, so they may run in any order or at once: the inactivity rules
// leave alone an account whose finishing date has come (it ends for the end
// of its contract, not for inactivity), and the warning leaves alone an
// account already due for deactivation (nobody is warned of what is
// happening at the same moment). A failed rule does not stop the others;
// the errors are joined.
//
// On PostgreSQL the rules run at once on separate connections, so that the
// database's work on one overlaps the rendering of another's e-mails and
// the longest rule, not the sum of three, sets how long a sweep takes; only
// the audit chain's head is taken in turn, at each commit. SQLite has one
// writer, so there they run one after another.
func (s *Service) SweepAt(ctx context.Context, now time.Time) (Result, error) {
	rules := []struct {
		name string
		fn   func(context.Context, time.Time, *Result) error
	}{
		{"invitation_expiry", s.expireInvitations},
		{"finishing_date", s.endFinished},
		{"inactivity", s.deactivateInactive},
		{"inactivity_warning", s.warnInactive},
		{"finishing_date_reminder", s.remindFinishing},
	}
	results := make([]Result, len(rules))
	errList := make([]error, len(rules))
	run := func(i int) {
		start := time.Now()
		errList[i] = rules[i].fn(ctx, now, &results[i])
		s.slog.Debug("lifecycle rule", "rule", rules[i].name, "took", time.Since(start))
	}
	if s.db.Dialect == store.Postgres {
		var wg sync.WaitGroup
		for i := range rules {
			wg.Go(func() { run(i) })
		}
		wg.Wait()
	} else {
		for i := range rules {
			run(i)
		}
	}
	var r Result
	for _, x := range results {
		r.Add(x)
	}
	return r, errors.Join(errList...)
}

// Job is the periodic work the job runner calls; now is CareGate's clock. It
// logs what it did when it did anything.
func (s *Service) Job(ctx context.Context, now time.Time) error {
	start := time.Now()
	r, err := s.SweepAt(ctx, now)
	if r.Changed() || err != nil {
		s.slog.Info("lifecycle sweep", "invitations_expired", r.InvitationsExpired, "inactivity_warned", r.InactivityWarned,
			"inactive_deactivated", r.InactiveDeactivated, "finishing_reminded", r.FinishingReminded,
			"finished_accounts", r.FinishedAccounts, "finished_memberships", r.FinishedMemberships,
			"emails", r.Emails, "took", time.Since(start).Round(time.Millisecond), "err", err)
	}
	return err
}

// counts is what one batch changed: the due rows, the e-mails queued, and
// other rows changed with them (memberships).
type counts struct{ changed, emails, extra int }

// lockSpace is the first key of the rules' advisory locks on PostgreSQL;
// the second names the rule.
const lockSpace = 7202

const (
	lockInvitationExpiry = iota + 1
	lockFinishingDate
	lockInactivity
	lockInactivityWarning
	lockFinishingReminder
)

// batches runs step in one transaction after another until a transaction
// changes fewer rows than a batch: each step changes at most BatchSize due
// rows. What a batch counts is added to *changed, *extra (if not nil) and
// r.Emails only once its transaction has committed. On PostgreSQL each
// transaction first takes the rule's advisory lock (lock), so that sweeps in
// other processes apply the same rule in turn: see pick.
func (s *Service) batches(ctx context.Context, lock int, r *Result, changed, extra *int, step func(tx *store.Tx, limit int) (counts, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c counts
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			if s.db.Dialect == store.Postgres {
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?, ?)`, lockSpace, lock); err != nil {
					return errs.Wrap(err, "take the rule's lock")
				}
			}
			var err error
			c, err = step(tx, s.cfg.BatchSize)
			return err
		})
		if err != nil {
			return err
		}
		*changed += c.changed
		r.Emails += c.emails
		if extra != nil {
			*extra += c.extra
		}
		if c.changed < s.cfg.BatchSize {
			return nil
		}
	}
}

// pick returns the condition that picks the next batch of due rows of
// table: at most limit (a parameter) rows that meet due, in order. due must
// name the terms of a partial index so that the pick walks only the rows that
// are due; the statement repeats due outside the sub-select, so that every
// row is re-checked as it changes.
//
// On PostgreSQL the rows are picked by id without locking them first: two
// sweeps at once (two processes, or the demo clock beside the hourly job)
// take turns on each rule (batches takes the rule's advisory lock), so the
// second finds only what the first left, and a row changed meanwhile by
// someone else (a use of the record) is waited for and re-checked by the
// outer condition. A FOR UPDATE in the pick locked each row before updating
// it: a second change of the row and a log record each, for ten thousand
// rows a tenth of the sweep. By id, not by ctid: a row picked by ctid that
// another transaction updated meanwhile would be silently passed over.
// SQLite has one writer (no locking needed) and picks by rowid: the table is
// reached straight from the partial index, without a lookup in the index of
// the primary key for each row, which in a table of a million rows is a page
// read per row.
func (s *Service) pick(table, due, order string) string {
	if s.db.Dialect == store.Postgres {
		return `id IN (SELECT id FROM ` + table + ` WHERE ` + due + ` ORDER BY ` + order + ` LIMIT ?)`
	}
	return `rowid IN (SELECT rowid FROM ` + table + ` WHERE ` + due + ` ORDER BY ` + order + ` LIMIT ?)`
}

// update begins a statement that updates a batch of rows of table. On
// SQLite it is UPDATE OR FAIL. By default SQLite keeps a statement journal
// while an UPDATE of many rows runs inside a transaction: a copy of every
// page the statement changes, so that a failed statement can be undone alone
// while its transaction goes on. A batch of due rows spread over a table of a
// million rows changes a page or more per row, so that copy doubled the pages
// a sweep wrote. A sweep never goes on after a failed statement (its
// transaction is rolled back whole), and OR FAIL, which keeps what the
// statement changed before it failed, needs no statement journal: the same
// outcome, half the writing. PostgreSQL has no statement journal, and no OR
// FAIL.
func (s *Service) update(table string) string {
	if s.db.Dialect == store.SQLite {
		return `UPDATE OR FAIL ` + table
	}
	return `UPDATE ` + table
}

// micros is t as stored: Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// days is n whole days.
func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// localDate is the date of t where finishing dates are kept.
func (s *Service) localDate(t time.Time) string { return t.In(s.loc).Format(time.DateOnly) }

// longDate shows a time's local date in e-mails: "2 February 2027".
func (s *Service) longDate(t time.Time) string { return t.In(s.loc).Format("2 January 2006") }

// longDay shows a YYYY-MM-DD date in e-mails.
func longDay(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return t.Format("2 January 2006")
}

func (s *Service) link(path string) string { return s.cfg.BaseURL + path }

// scanner is a row being read.
type scanner interface{ Scan(dest ...any) error }

// auditReturned runs q, an UPDATE … RETURNING the rows it changed, and
// records the audit event that event makes of each row; what names the work
// in errors. Every row is read before the first event is recorded: the
// transaction's connection serves one statement at a time. It returns how
// many rows changed.
func (s *Service) auditReturned(ctx context.Context, tx *store.Tx, what, q string, args []any, event func(scanner) (audit.Event, error)) (int, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return 0, errs.Wrap(err, what)
	}
	var evs []audit.Event
	for rows.Next() {
		ev, err := event(rows)
		if err != nil {
			rows.Close()
			return 0, errs.Wrap(err, what)
		}
		evs = append(evs, ev)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, errs.Wrap(err, what)
	}
	for _, ev := range evs {
		if err := s.log.Record(ctx, tx, ev); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}
