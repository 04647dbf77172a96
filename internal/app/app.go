package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/api"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/jobs"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
	"github.com/caregate/caregate/internal/web"
)

// Version is set at build time with -ldflags "-X …/internal/app.Version=…".
var Version = "dev"

// Options are the parts a caller (a test, the demo) may supply.
type Options struct {
	Clock        clock.Clock       // default: the system clock (an adjustable one in demo mode)
	Log          *slog.Logger      // default: JSON to standard error
	Auth         auth.Config       // sign-in rules; zero fields take defaults
	DemoAccounts []web.DemoAccount // shown on the start page in demo mode
}

// App is one running caregate process's parts.
type App struct {
	Config     Config
	DB         *store.DB
	Clock      clock.Clock
	DemoClock  *clock.Offset // nil unless demo mode
	Audit      *audit.Log
	Users      *auth.Service
	Orgs       *org.Service
	Outbox     *notify.Outbox // every e-mail goes through it
	Jobs       *jobs.Runner   // background work; started by serve, not by New
	Access     *access.Service
	Onboarding *onboarding.Service
	Training   *training.Service
	Members    *member.Service
	Lifecycle  *lifecycle.Service // invitation expiry, inactivity, finishing dates
	Record     *record.Service    // the shared care record: ingest, viewer, FHIR, launch
	Auth       *httpauth.Authenticator
	Web        *web.Handler
	API        *api.Handler
	Log        *slog.Logger
	Metrics    *prometheus.Registry
	handler    http.Handler
}

// OpenStore opens and migrates the database named by cfg: CareGate's
// tables, then the job queue's.
func OpenStore(ctx context.Context, cfg Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.StoreOptions())
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := jobs.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Services builds the audit log and domain services on db; the command line
// uses them without a web server.
func Services(db *store.DB, c clock.Clock, ac auth.Config) (*audit.Log, *auth.Service, *org.Service) {
	if c == nil {
		c = clock.System{}
	}
	l := audit.NewLog(db, c)
	users := auth.NewService(db, l, c, ac)
	return l, users, org.NewService(db, l, c, users)
}

// New opens the store and builds every part. The caller must Close it.
func New(ctx context.Context, cfg Config, o Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: o.Log, Clock: o.Clock}
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.Clock == nil {
		if cfg.Demo {
			a.DemoClock = &clock.Offset{}
			a.Clock = a.DemoClock
		} else {
			a.Clock = clock.System{}
		}
	} else if off, ok := o.Clock.(*clock.Offset); ok && cfg.Demo {
		a.DemoClock = off
	}
	var err error
	if a.DB, err = OpenStore(ctx, cfg); err != nil {
		return nil, err
	}
	a.Audit, a.Users, a.Orgs = Services(a.DB, a.Clock, o.Auth)
	if err := a.mail(cfg); err != nil {
		a.Close()
		return nil, err
	}
	a.Onboarding = onboarding.NewService(a.DB, a.Audit, a.Clock, a.Orgs)
	if a.Access, err = access.NewService(ctx, a.DB, a.Audit, a.Clock, a.Users, a.Orgs, a.Outbox, nil,
		access.Config{ServiceName: cfg.ServiceName, BaseURL: cfg.BaseURL, SLAWorkingDays: cfg.SLAWorkingDays}); err != nil {
		a.Close()
		return nil, err
	}
	a.Training = training.NewService(a.DB, a.Audit, a.Clock, a.Access, a.Outbox,
		training.Config{ServiceName: cfg.ServiceName, BaseURL: cfg.BaseURL})
	if a.Jobs != nil {
		// Refresher reminders, lapses, and requests for people whose
		// training is complete but who have none yet.
		a.Jobs.Every("training_refreshers", time.Hour, a.Training.Sweep)
	}
	a.Members = member.NewService(a.DB, a.Audit, a.Clock, a.Users, a.Orgs, a.Access, a.Training, a.Outbox,
		member.Config{BaseURL: cfg.BaseURL})
	if err := a.lifecycle(cfg); err != nil {
		a.Close()
		return nil, err
	}
	a.Record = record.New(record.Deps{DB: a.DB, Audit: a.Audit, Clock: a.Clock, Training: a.Training, Usage: a.Access, Outbox: a.Outbox,
		Sessions: a.Users, Log: a.Log}, record.Config{ServiceName: cfg.ServiceName, BaseURL: cfg.BaseURL})
	key, err := csrfKey(ctx, a.DB)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Auth = httpauth.New(a.DB, a.Users, key, cfg.TrustProxy, cfg.SecureCookies)
	assets, err := web.NewAssets()
	if err != nil {
		a.Close()
		return nil, err
	}
	var demo *web.Demo
	if cfg.Demo {
		demo = &web.Demo{Accounts: o.DemoAccounts, Clock: a.DemoClock}
	}
	a.Web, err = web.New(web.Deps{DB: a.DB, Users: a.Users, Orgs: a.Orgs, Access: a.Access, Audit: a.Audit, Auth: a.Auth, Clock: a.Clock,
		Assets: assets, Demo: demo, Log: a.Log, BaseURL: cfg.BaseURL, Onboarding: a.Onboarding, Outbox: a.Outbox, Training: a.Training,
		Members: a.Members, Record: a.Record})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.API = api.New(api.Deps{DB: a.DB, Users: a.Users, Orgs: a.Orgs, Access: a.Access, Audit: a.Audit, Auth: a.Auth, Clock: a.Clock,
		DemoClock: a.DemoClock, Log: a.Log, Version: Version, BaseURL: cfg.BaseURL, Onboarding: a.Onboarding, Outbox: a.Outbox,
		Training: a.Training, Members: a.Members, Record: a.Record})
	a.Metrics = prometheus.NewRegistry()
	a.handler = a.routes(assets)
	return a, nil
}

// mail builds the job runner and the outbox. The runner is not started
// here: serve starts it, and tests that need delivery start it themselves.
func (a *App) mail(cfg Config) error {
	mailer, err := cfg.Mailer()
	if err != nil {
		return err
	}
	if a.Jobs, err = jobs.New(a.DB, a.Log, a.Clock); err != nil {
		return err
	}
	a.Outbox, err = notify.NewOutboxWith(notify.Options{Clock: a.Clock, Mailer: mailer, DB: a.DB, Jobs: a.Jobs,
		Audit: a.Audit, Log: a.Log})
	return err
}

// lifecycle builds the automatic rules and schedules them; in demo mode a
// move of the clock also runs them at once.
func (a *App) lifecycle(cfg Config) error {
	lc := cfg.Lifecycle
	lc.ServiceName, lc.BaseURL = cfg.ServiceName, cfg.BaseURL
	var err error
	if a.Lifecycle, err = lifecycle.NewService(a.DB, a.Audit, a.Clock, a.Outbox, a.Log, lc); err != nil {
		return err
	}
	a.Jobs.Every("lifecycle_rules", a.Lifecycle.Config().Interval, a.Lifecycle.Job)
	if a.DemoClock != nil {
		a.DemoClock.OnAdvance(func(now time.Time) { _ = a.Lifecycle.Job(context.Background(), now) })
	}
	return nil
}

// Handler is the whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// Close stops the background jobs (waiting up to 10 s for those running)
// and the audit writer, and closes the database.
func (a *App) Close() {
	if a.Jobs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.Jobs.Stop(ctx); err != nil {
			a.Log.Warn("stopping background jobs", "err", err)
		}
		cancel()
	}
	if a.Record != nil {
		a.Record.Close() // writes the last uses still waiting
	}
	if a.Audit != nil {
		a.Audit.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}

// csrfKey returns the key that signs CSRF tokens. It lives in the database so
// that every instance behind a load balancer accepts every other's forms; the
// first instance to start creates it and the others read it.
func csrfKey(ctx context.Context, db *store.DB) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('csrf_key', ?) ON CONFLICT (key) DO NOTHING`, hex.EncodeToString(b)); err != nil {
		return nil, fmt.Errorf("store CSRF key: %w", err)
	}
	var v string
	if err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'csrf_key'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("read CSRF key: %w", err)
	}
	return hex.DecodeString(v)
}

// FirstAdminLink returns a one-time set-up link for a first administrator
// when the database has no accounts at all, creating that account with the
// given e-mail address. It returns "" when accounts exist.
func (a *App) FirstAdminLink(ctx context.Context, email string) (string, error) {
	n, err := a.Users.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	u, err := a.Users.CreateUser(ctx, audit.System, auth.NewUser{Email: email, GivenName: "System", FamilyName: "Administrator",
		Roles: []string{auth.RoleAdmin}})
	if err != nil {
		return "", err
	}
	return a.Users.CreateSetupLink(ctx, audit.System, u.ID)
}

// Server returns an http.Server with timeouts suited to a portal.
func (a *App) Server() *http.Server {
	return &http.Server{Addr: a.Config.Addr, Handler: a.handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
}
