package training

import (
	"context"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// Config holds the training rules' wording; zero fields take the defaults.
type Config struct {
	ServiceName string // the record's name in status lines and e-mails ("Shared Care Record")
	BaseURL     string // portal address for links in reminder e-mails
}

// Service manages training modules, assignment rules, members' progress and
// the completion gate.
type Service struct {
	db     *store.DB
	log    *audit.Log
	clock  clock.Clock
	access *access.Service
	outbox *notify.Outbox
	cfg    Config
}

// NewService returns the training service.
func NewService(db *store.DB, log *audit.Log, c clock.Clock, acc *access.Service, outbox *notify.Outbox, cfg Config) *Service {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "Shared Care Record"
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	return &Service{db: db, log: log, clock: c, access: acc, outbox: outbox, cfg: cfg}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) link(path string) string {
	if s.cfg.BaseURL == "" {
		return ""
	}
	return s.cfg.BaseURL + path
}

// requireAdmin lets programme administrators through.
func requireAdmin(p *authz.Principal) error {
	if p == nil {
		return errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	if !p.IsAdmin() {
		return errs.E(errs.Forbidden, "Only programme administrators manage training")
	}
	return nil
}

func requireSignedIn(p *authz.Principal) error {
	if p == nil {
		return errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	return nil
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func micros(v int64) *time.Time {
	if v == 0 {
		return nil
	}
	t := time.UnixMicro(v).UTC()
	return &t
}

func utc(v int64) time.Time { return time.UnixMicro(v).UTC() }

// lockPerson serialises the training changes of one person across
// transactions and processes, so that two completions arriving at the same
// moment are decided one after the other: the second sees the first's
// completion and the request it raised. On SQLite every write transaction
// begins IMMEDIATE on the one writing connection and is already alone. On
// PostgreSQL a row lock on the person does it; FOR NO KEY UPDATE does not
// stop other transactions inserting rows that refer to them (sessions,
// audit).
func lockPerson(ctx context.Context, tx *store.Tx, userID string) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = ? FOR NO KEY UPDATE`, userID).Scan(&id)
	if store.IsNoRows(err) {
		return errs.E(errs.NotFound, "No such person")
	}
	return errs.Wrap(err, "lock person")
}

// addMonths returns t plus n calendar months in England, on the same day of
// the month or, where that month is shorter, on its last day (31 January
// plus one month is 28 or 29 February), at the same clock time.
func addMonths(t time.Time, n int) time.Time {
	l := t.In(london)
	y, m, d := l.Date()
	first := time.Date(y, m+time.Month(n), 1, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), london)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), london).UTC()
}

// london is England's time zone: validity periods and reminder dates are
// calendar dates there.
var london = clock.London

// day formats a time as a date for messages, e.g. "2 November 2027".
func day(t time.Time) string { return t.In(london).Format("2 January 2006") }
