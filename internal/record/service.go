package record

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// TrainingGate says whether a person's training allows record access
// (training.Service.AccessAllowed).
type TrainingGate interface {
	AccessAllowed(ctx context.Context, userID string) (bool, string)
}

// UsageMarker moves record accounts' last use forward
// (access.Service.MarkUsed).
type UsageMarker interface {
	MarkUsed(ctx context.Context, at time.Time, userIDs ...string) error
}

// Auditor writes audit events: Append commits one on its own (shared with
// concurrent callers), Record inside a transaction. *audit.Log is one;
// tests give a failing one.
type Auditor interface {
	Append(ctx context.Context, ev audit.Event) error
	Record(ctx context.Context, tx *store.Tx, ev audit.Event) error
}

// Config holds the record's rules; zero fields take the defaults.
type Config struct {
	MaxPayload     int64         // largest ingest payload in bytes (20 MB)
	TokenLifetime  time.Duration // machine access tokens (10 min)
	LaunchAudience string        // the aud a launch token must carry ("caregate")
	LaunchMaxAge   time.Duration // longest validity of a launch token (5 min)
	UsageEvery     time.Duration // how often last use is written (5 s)
	// GateFor is how long a person's passing of the gate is remembered
	// in this process (2 s; negative: never). A deactivation, a
	// suspension or lapsed training therefore takes effect within that
	// time; a refusal is never remembered, so access granted takes effect
	// at once. Without it the training check alone is 40% of a read.
	GateFor time.Duration
	// SuppliersFor is how long this process uses one reading of the
	// organisations' names and ODS codes, which record reads show beside
	// each item (2 s; negative: read for every request). A renamed
	// organisation shows under its new name within that time.
	SuppliersFor time.Duration
	ServiceName  string // "Shared Care Record"
	BaseURL      string // portal address for links in e-mails
}

// DefaultMaxPayload is the largest ingest payload accepted.
const DefaultMaxPayload = 20 << 20

func (c *Config) defaults() {
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = 10 * time.Minute
	}
	if c.LaunchAudience == "" {
		c.LaunchAudience = "caregate"
	}
	if c.LaunchMaxAge <= 0 {
		c.LaunchMaxAge = 5 * time.Minute
	}
	if c.UsageEvery <= 0 {
		c.UsageEvery = 5 * time.Second
	}
	if c.GateFor == 0 {
		c.GateFor = 2 * time.Second
	}
	if c.SuppliersFor == 0 {
		c.SuppliersFor = 2 * time.Second
	}
	if c.ServiceName == "" {
		c.ServiceName = "Shared Care Record"
	}
}

// Deps are what the record service uses.
type Deps struct {
	DB       *store.DB
	Audit    Auditor
	Clock    clock.Clock
	Training TrainingGate
	Usage    UsageMarker
	Outbox   *notify.Outbox // data-problem reports; nil: none are e-mailed
	Sessions LaunchSessions
	Log      *slog.Logger
}

// Service is the shared care record.
type Service struct {
	db       *store.DB
	audit    Auditor
	clock    clock.Clock
	training TrainingGate
	outbox   *notify.Outbox
	sessions LaunchSessions
	log      *slog.Logger
	usage    *usage
	orgs     *suppliers
	cfg      Config

	passed sync.Map     // user id → passedGate: recent passes of the gate
	vias   sync.Map     // session hash → ViaSearch or ViaLaunch
	nvias  atomic.Int64 // entries in vias
}

// passedGate is a remembered pass of the gate.
type passedGate struct {
	v     Viewer
	until time.Time
}

// New returns the record service. Close stops its last-use writer.
func New(d Deps, cfg Config) *Service {
	cfg.defaults()
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Service{db: d.DB, audit: d.Audit, clock: d.Clock, training: d.Training, outbox: d.Outbox, sessions: d.Sessions,
		log: d.Log, cfg: cfg}
	s.usage = newUsage(d.Usage, d.Clock, cfg.UsageEvery, d.Log)
	s.orgs = newSuppliers(d.DB, cfg.SuppliersFor)
	return s
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Close writes the last uses still waiting and stops the writer.
func (s *Service) Close() { s.usage.close() }

// FlushUsage writes the last uses waiting now (tests; shutdown).
func (s *Service) FlushUsage(ctx context.Context) error { return s.usage.flush(ctx) }

// gate decides whether p may open the record: they need an active record
// account, in an organisation that is live, and all assigned training
// complete. It returns the viewer, or a Forbidden error that says why in
// words the person can act on.
func (s *Service) gate(ctx context.Context, p *authz.Principal, via string) (*Viewer, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	now := time.Now() // a cache's expiry, not a rule of the record: the wall clock
	if pg, ok := s.passed.Load(p.UserID); ok && now.Before(pg.(*passedGate).until) {
		v := pg.(*passedGate).v
		v.Email, v.Via = p.Email, via
		return &v, nil
	}
	v, err := s.checkGate(ctx, p, via)
	if err == nil && s.cfg.GateFor > 0 {
		s.passed.Store(p.UserID, &passedGate{v: *v, until: now.Add(s.cfg.GateFor)})
	}
	return v, err
}

// checkGate is the gate itself, read from the database.
func (s *Service) checkGate(ctx context.Context, p *authz.Principal, via string) (*Viewer, error) {
	v := &Viewer{UserID: p.UserID, Email: p.Email, Via: via}
	var status, orgStatus string
	var memberships, active int
	// memberships and active count the person's memberships of the
	// organisation's sites (any status) and the active ones: a member
	// their authoriser deactivated or removed may not open the record even
	// before the back office acts on the request for their account. People
	// with no membership at all (accounts a service desk asked for) are not
	// held back by this.
	err := s.db.QueryRow(ctx, `SELECT ra.role, ra.status, o.id, o.ods_code, o.status,
		(SELECT COUNT(*) FROM memberships m JOIN sites st ON st.id = m.site_id WHERE m.user_id = ra.user_id AND st.organisation_id = o.id),
		(SELECT COUNT(*) FROM memberships m JOIN sites st ON st.id = m.site_id WHERE m.user_id = ra.user_id AND st.organisation_id = o.id AND m.status = 'active')
		FROM record_accounts ra JOIN organisations o ON o.id = ra.organisation_id WHERE ra.user_id = ?`, p.UserID).
		Scan(&v.Role, &status, &v.OrganisationID, &v.ODS, &orgStatus, &memberships, &active)
	if store.IsNoRows(err) {
		return v, errs.E(errs.Forbidden, "You do not have a record account. Your site authoriser asks for one once your training is complete.")
	}
	if err != nil {
		return v, errs.Wrap(err, "check record account")
	}
	switch {
	case status == "pending":
		return v, errs.E(errs.Forbidden, "Your record account is waiting to be set up by the back office.")
	case status != "active":
		return v, errs.E(errs.Forbidden, "Your record account is %s. Ask your site authoriser to request its reactivation.", status)
	case orgStatus != "active":
		return v, errs.E(errs.Forbidden, "Your organisation's access to the record is %s. Contact your organisation's service desk.", orgStatus)
	case memberships > 0 && active == 0:
		return v, errs.E(errs.Forbidden, "Your membership of your site has been deactivated or ended, so you cannot open the record. You can still sign in and train; ask your site authoriser to reactivate you.")
	}
	if ok, why := s.training.AccessAllowed(ctx, p.UserID); !ok {
		return v, errs.E(errs.Forbidden, "Your training does not allow access to the record: %s.", why)
	}
	if !RoleSees(v.Role, Demographics) {
		return v, errs.E(errs.Forbidden, "Your record role does not allow access to the record.")
	}
	return v, nil
}

// event builds the audit event of a record access.
func (s *Service) event(p *authz.Principal, v *Viewer, action, nhs, outcome string, detail map[string]string) audit.Event {
	d := map[string]string{}
	for k, val := range detail {
		d[k] = val
	}
	if v != nil {
		if v.Role != "" {
			d["role"] = v.Role
		}
		if v.ODS != "" {
			d["organisation"] = v.ODS
		}
		if v.Via != "" {
			d["via"] = v.Via
		}
	}
	return audit.New(p.Who(), action, "patient", nhs, outcome, d)
}

// refuse audits a refused access and returns the refusal. If the refusal
// cannot be written, the person still gets no data.
func (s *Service) refuse(ctx context.Context, p *authz.Principal, v *Viewer, action, nhs string, err error, detail map[string]string) error {
	if p == nil {
		return err
	}
	d := map[string]string{"reason": errs.As(err).Message}
	for k, val := range detail {
		d[k] = val
	}
	s.auditRefused(ctx, s.event(p, v, action, nhs, audit.Refused, d))
	return err
}

// auditRefused writes the event of a refusal. The refusal stands whether or
// not the event is written (nothing is released either way), and is written
// even when the request was cancelled meanwhile; a failure is logged.
func (s *Service) auditRefused(ctx context.Context, ev audit.Event) {
	if err := s.audit.Append(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("audit of a refusal failed", "action", ev.Action, "err", err)
	}
}

// release writes the success event of an access and returns nil only once
// it is committed: the caller returns data only then.
func (s *Service) release(ctx context.Context, p *authz.Principal, v *Viewer, action, nhs string, detail map[string]string) error {
	if err := s.audit.Append(ctx, s.event(p, v, action, nhs, audit.Success, detail)); err != nil {
		return &errs.Error{Code: errs.Internal, Message: "The access could not be recorded in the audit trail, so nothing is shown. Please try again.", Err: err}
	}
	s.usage.note(v.UserID)
	return nil
}

// Gate reports whether p may open the record now, without opening any
// patient's (the portal shows the search page or a clear refusal). Refusals
// are audited.
func (s *Service) Gate(ctx context.Context, p *authz.Principal, via string) (*Viewer, error) {
	v, err := s.gate(ctx, p, via)
	if err != nil {
		return nil, s.refuse(ctx, p, v, "record.open", "", err, nil)
	}
	return v, nil
}
