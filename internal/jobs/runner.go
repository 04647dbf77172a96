package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
)

// Runner is one process's job queue client: it inserts jobs and, once
// started, works them. Create it with New, register workers and periodic
// work, then Start it; Stop it before closing the database. A Runner that is
// never started still inserts jobs (tests and command-line tools), which any
// started Runner on the same database then works.
type Runner struct {
	db     *store.DB
	log    *slog.Logger
	clock  clock.Clock
	client *river.Client[*sql.Tx]
	// workers is River's registry; Register adds to it until Start.
	workers *river.Workers
	// listener holds the dedicated LISTEN connection on PostgreSQL; nil on
	// SQLite, where River polls a notification table instead.
	listener *pgxpool.Pool

	mu       sync.Mutex
	periodic map[string]periodicFunc
	started  bool
	stopped  bool
}

// Options tune a Runner; the zero value suits production.
type Options struct {
	// Workers is how many jobs this process works at once (default 10).
	Workers int
	// PollInterval is how often the queue is checked for jobs that no
	// notification announced: scheduled and snoozed jobs, and jobs inserted
	// by processes whose notification was missed. Default 1 s.
	PollInterval time.Duration
	// JobTimeout bounds one run of a job (default 2 minutes).
	JobTimeout time.Duration
}

// New returns a Runner on db. The logger receives River's warnings and
// errors (its routine information is dropped); c is the clock handed to
// periodic work.
func New(db *store.DB, log *slog.Logger, c clock.Clock) (*Runner, error) {
	return NewWithOptions(db, log, c, Options{})
}

// NewWithOptions is New with tuning options.
func NewWithOptions(db *store.DB, log *slog.Logger, c clock.Clock, o Options) (*Runner, error) {
	if log == nil {
		log = slog.Default()
	}
	if c == nil {
		c = clock.System{}
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 2 * time.Minute
	}
	r := &Runner{db: db, log: log, clock: c, workers: river.NewWorkers(), periodic: map[string]periodicFunc{}}
	if db.Dialect == store.Postgres {
		pool, err := listenerPool(db)
		if err != nil {
			return nil, err
		}
		r.listener = pool
	}
	river.AddWorker(r.workers, &periodicWorker{r: r})
	client, err := river.NewClient(driverFor(db, r.listener), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}},
		Workers:           r.workers,
		Logger:            quietLogger(log),
		FetchPollInterval: o.PollInterval,
		JobTimeout:        o.JobTimeout,
	})
	if err != nil {
		r.closeListener()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	r.client = client
	return r, nil
}

// driverFor returns River's driver for the engine. Both are drivers over
// *sql.Tx, so InsertTx joins CareGate's own transactions on either engine.
//
// On SQLite River shares the single writing connection (db.W): SQLite has one
// writer at a time anyway, and a second writing pool would make the two spin
// on SQLITE_BUSY instead of queuing. River's own transactions therefore wait
// for ours, and code inside a transaction must use that transaction.
func driverFor(db *store.DB, listener *pgxpool.Pool) riverdriver.Driver[*sql.Tx] {
	if db.Dialect == store.SQLite {
		return riversqlite.New(db.W)
	}
	if listener != nil {
		return riverdatabasesql.NewWithPgxListener(db.W, listener)
	}
	return riverdatabasesql.New(db.W)
}

// listenerPool opens a pgx pool of one connection on the same database and
// search_path as db, for River's LISTEN connection (database/sql cannot hold
// one open). The connection string is read back from a pooled connection, so
// the store need not keep the URL and its password around.
func listenerPool(db *store.DB) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("job queue listener: %w", err)
	}
	defer conn.Close()
	var connString string
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected PostgreSQL driver %T", dc)
		}
		connString = c.Conn().Config().ConnString()
		return nil
	}); err != nil {
		return nil, fmt.Errorf("job queue listener: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("job queue listener: %w", err)
	}
	// River hijacks the connection it listens on; the pool only hands it out.
	cfg.MaxConns, cfg.MinConns = 1, 0
	return pgxpool.NewWithConfig(context.Background(), cfg)
}

// Register adds a worker for one kind of job. Call it before Start; a kind
// may be registered once.
func Register[T river.JobArgs](r *Runner, w river.Worker[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		panic("jobs: Register after Start")
	}
	river.AddWorker(r.workers, w)
}

// InsertTx queues a job inside tx: the job is visible to workers only once
// tx commits, and vanishes if it rolls back. opts may be nil. With unique
// options, a duplicate of a live job is skipped and inserted reports false.
func (r *Runner) InsertTx(ctx context.Context, tx *store.Tx, args river.JobArgs, opts *river.InsertOpts) (inserted bool, err error) {
	res, err := r.client.InsertTx(ctx, tx.SQL(), args, opts)
	if err != nil {
		return false, fmt.Errorf("queue job %s: %w", args.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// InsertManyTx is InsertTx for several jobs in one batch (one statement on
// PostgreSQL; SQLite still inserts them one by one). It returns how many
// were inserted, duplicates of live unique jobs not counted.
func (r *Runner) InsertManyTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) (int, error) {
	res, err := r.client.InsertManyTx(ctx, tx.SQL(), params)
	if err != nil {
		return 0, fmt.Errorf("queue %d jobs: %w", len(params), err)
	}
	n := 0
	for _, x := range res {
		if !x.UniqueSkippedAsDuplicate {
			n++
		}
	}
	return n, nil
}

// UniqueWhileLive makes an insert skip a job whose kind and arguments equal
// those of a job still queued, scheduled, running or awaiting a retry.
// Unlike River's default, a completed job does not block a new one: the
// same work may be asked for again once it has been done.
func UniqueWhileLive() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
		rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}
}

// Start begins working jobs and, if this process is elected leader,
// scheduling periodic work. It returns once the queue is running, which it
// keeps doing until Stop: the end of ctx does not stop it (River would then
// cancel running jobs at once; Stop lets them finish first).
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return errors.New("jobs: Start after Stop")
	}
	if r.started {
		return nil
	}
	r.started = true
	return r.client.Start(context.WithoutCancel(ctx))
}

// Stop stops fetching jobs and waits for those running to finish until ctx
// ends; then it cancels them (they run again later, nothing is lost). It is
// safe to call more than once, and on a Runner that was never started.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	started, stopped := r.started, r.stopped
	r.stopped = true
	r.mu.Unlock()
	if stopped {
		return nil
	}
	defer r.closeListener()
	if !started {
		return nil
	}
	err := r.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(err, r.client.StopAndCancel(cctx))
	}
	return err
}

func (r *Runner) closeListener() {
	if r.listener != nil {
		r.listener.Close()
	}
}

// quietLogger passes River's warnings and errors to log and drops its
// routine information (start, stop, leadership), which would drown ours.
func quietLogger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(minLevel{Handler: log.Handler(), min: slog.LevelWarn})
}

// minLevel is a slog handler that drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
