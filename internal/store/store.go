// Package store opens CareGate's database on one of two engines — embedded
// SQLite (the default) or PostgreSQL (for several stateless instances) — and
// applies the embedded, versioned migrations. Queries are written once with
// "?" placeholders; Rebind turns them into "$n" for PostgreSQL. Everything
// above this package sees one API whatever the engine.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "modernc.org/sqlite"             // registers driver "sqlite" (pure Go, no cgo)
)

// Dialect names the SQL engine in use.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database. On SQLite, W is a pool of exactly one connection that
// takes the write lock at BEGIN (so writers queue in Go rather than failing with
// SQLITE_BUSY), and R is a pool of read connections. On PostgreSQL, W and R are
// the same pool.
type DB struct {
	Dialect Dialect
	W       *sql.DB
	R       *sql.DB

	rebound sync.Map // query text -> rebound text (PostgreSQL only)

	stmts  sync.Map     // query text -> *sql.Stmt prepared on R (see prepared)
	nstmts atomic.Int32 // how many stmts holds
	wstmts sync.Map     // query text -> *sql.Stmt prepared on W (see Tx.ExecHot)

	ck            *sql.DB // SQLite: the checkpointer's connection
	stop, stopped chan struct{}
	closeOnce     sync.Once
}

// Options selects the database.
type Options struct {
	// URL is a postgres:// URL; empty selects SQLite in DataDir.
	URL string
	// DataDir holds caregate.db for SQLite.
	DataDir string
	// WALSizeLimit is what SQLite cuts its WAL file back to when the log
	// starts again from its beginning after a checkpoint (0:
	// DefaultWALSizeLimit; negative: no limit). SQLite otherwise reuses the file at its largest
	// size ever: a bulk load left 5 GB on disk, for a log that holds a few
	// megabytes between checkpoints.
	WALSizeLimit int64
}

// DefaultWALSizeLimit is the WAL file's size limit unless Options say.
const DefaultWALSizeLimit = 64 << 20

// Open opens the database without migrating it.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.URL != "" && !strings.HasPrefix(o.URL, "sqlite:") {
		if !strings.HasPrefix(o.URL, "postgres://") && !strings.HasPrefix(o.URL, "postgresql://") {
			return nil, fmt.Errorf("database URL must start with postgres:// (got scheme %q)", schemeOf(o.URL))
		}
		return openPostgres(ctx, o.URL)
	}
	dir := o.DataDir
	if dir == "" {
		dir = "caregate-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	limit := o.WALSizeLimit
	if limit == 0 {
		limit = DefaultWALSizeLimit
	}
	return openSQLite(ctx, filepath.Join(dir, "caregate.db"), limit)
}

func schemeOf(u string) string {
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i]
	}
	return "none"
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{Dialect: Postgres, W: db, R: db}, nil
}

// sqlitePragmas are applied to every connection through the DSN.
//   - busy_timeout first, so that even the pragmas below wait for a lock
//     instead of failing when another process holds it;
//   - WAL lets readers run beside the single writer;
//   - synchronous(FULL) makes every commit durable (the audit trail must not
//     lose acknowledged events on power loss); throughput comes from grouping
//     commits, not from weakening this;
//   - foreign keys are off by default in SQLite.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"

// noAutoCheckpoint is for the writing connection: by default SQLite copies
// the WAL back into the database inside whichever commit crosses 1,000
// pages, and that commit (and every request waiting behind it) pays for the
// copy and an extra sync. The checkpointer below does it beside the writer
// instead; this halves the 99th-percentile commit latency.
const noAutoCheckpoint = "&_pragma=wal_autocheckpoint(0)"

// writerCache is the writing connection's page cache (32 MB; SQLite's
// default is 2 MB): a bulk transaction's pages then stay in memory until
// commit instead of spilling to the WAL part-way, and the hot index pages
// of the tables written most stay cached between transactions.
const writerCache = "&_pragma=cache_size(-32768)"

// checkpointEvery is how often the checkpointer folds the WAL back.
const checkpointEvery = 500 * time.Millisecond

func openSQLite(ctx context.Context, path string, walLimit int64) (*DB, error) {
	// _txlock=immediate: BEGIN takes the write lock at once, so a transaction
	// never fails half-way when it upgrades from read to write.
	// The writer cuts the WAL back: it is the connection that restarts it.
	w, err := sql.Open("sqlite", "file:"+path+"?"+sqlitePragmas+noAutoCheckpoint+writerCache+
		"&_pragma=journal_size_limit("+strconv.FormatInt(walLimit, 10)+")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One writing connection: SQLite allows one writer at a time anyway, and
	// queuing in Go is cheaper than spinning on SQLITE_BUSY. Code inside a
	// write transaction must use the transaction, never the pool.
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+sqlitePragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	r.SetMaxOpenConns(8)
	// Keep them all open: database/sql keeps only 2 idle by default, so
	// under load the others were closed and reopened per query, and each
	// opening parses the whole schema (a third of a record read's CPU).
	r.SetMaxIdleConns(8)
	ck, err := sql.Open("sqlite", "file:"+path+"?"+sqlitePragmas)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	ck.SetMaxOpenConns(1)
	db := &DB{Dialect: SQLite, W: w, R: r, ck: ck, stop: make(chan struct{}), stopped: make(chan struct{})}
	go db.checkpointer()
	return db, nil
}

// checkpointer folds the WAL back into the database file in the background.
// PASSIVE never waits for the writer or readers; what it cannot copy now it
// copies next time.
func (db *DB) checkpointer() {
	defer close(db.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			_, _ = db.ck.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
			return
		case <-t.C:
			_, _ = db.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// Close closes the prepared statements and both pools.
func (db *DB) Close() error {
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(k, v any) bool {
			v.(*sql.Stmt).Close()
			m.Delete(k)
			return true
		})
	}
	if db.ck != nil {
		db.closeOnce.Do(func() {
			close(db.stop)
			<-db.stopped
			db.ck.Close()
		})
	}
	err := db.W.Close()
	if db.R != db.W {
		if e := db.R.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Rebind rewrites "?" placeholders as "$1", "$2"… for PostgreSQL. Queries in
// CareGate never contain a literal question mark.
func (db *DB) Rebind(q string) string {
	if db.Dialect != Postgres {
		return q
	}
	if v, ok := db.rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	s := b.String()
	db.rebound.Store(q, s)
	return s
}

// Exec runs a write statement outside a transaction.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.W.ExecContext(ctx, db.Rebind(q), args...)
}

// Query runs a read query on the read pool.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := db.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.R.QueryContext(ctx, db.Rebind(q), args...)
}

// QueryRow runs a single-row read query on the read pool.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := db.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.R.QueryRowContext(ctx, db.Rebind(q), args...)
}

// maxStmts bounds the prepared statements kept: queries are constants, but
// a few are built with a variable number of parameters.
const maxStmts = 1000

// prepared returns the read query q prepared once (database/sql then
// prepares it on each connection once), or nil to run it unprepared. The
// SQLite driver parses a statement's text on every run otherwise, and on
// hot reads (a record view is a dozen small queries, with authentication)
// that parsing cost more than the queries themselves. PostgreSQL's driver
// caches its prepared statements itself, as in Tx.stmt.
//
// SQLite still recompiles a prepared statement each time it is bound when
// the plan may depend on a parameter's value: when statistics of
// sqlite_stat4 exist (so CareGate does not ANALYZE SQLite databases), and
// when a parameter is compared with a column the way a partial index's
// WHERE compares it with a constant (so no partial index is conditioned on
// a column that hot queries compare with a parameter; see migration 0008).
func (db *DB) prepared(ctx context.Context, q string) *sql.Stmt {
	if db.Dialect != SQLite {
		return nil
	}
	if v, ok := db.stmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if db.nstmts.Load() >= maxStmts {
		return nil
	}
	st, err := db.R.PrepareContext(context.WithoutCancel(ctx), db.Rebind(q))
	if err != nil {
		return nil // run unprepared: the query reports its own error
	}
	if v, loaded := db.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	db.nstmts.Add(1)
	return st
}

// Tx is a write transaction; its methods rebind placeholders.
type Tx struct {
	tx     *sql.Tx
	db     *DB
	before []func() error // run in order just before commit
	last   []func() error // run in order after before, just before commit
	values map[any]any    // per-transaction state of other packages
	undo   []func()       // undoes in-memory state to the innermost savepoint
	depth  int            // savepoints open
	nsp    int

	// SQLite parses every statement it runs; a bulk operation runs the
	// same few statements hundreds of times in one transaction. A query
	// seen a second time is prepared and kept until the transaction ends
	// (database/sql closes a transaction's statements then). PostgreSQL's
	// driver caches its prepared statements itself.
	seen  map[string]int
	stmts map[string]*sql.Stmt
}

// stmt returns the transaction's prepared statement for q (rebound), or nil
// to run it unprepared.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.db.Dialect != SQLite {
		return nil
	}
	if st := t.stmts[q]; st != nil {
		return st
	}
	if t.seen == nil {
		t.seen = map[string]int{}
	}
	if t.seen[q]++; t.seen[q] < 2 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil // run it unprepared, which reports the error
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[q] = st
	return st
}

// OnUndo registers fn to undo an in-memory change (an audit event added to
// the transaction's buffer) if the savepoint it was made in is rolled back.
// Outside a savepoint it does nothing: the whole transaction rolls back.
func (t *Tx) OnUndo(fn func()) {
	if t.depth > 0 {
		t.undo = append(t.undo, fn)
	}
}

// Savepoint runs fn so that, if it fails, everything it wrote is undone
// while the transaction goes on: a bulk operation skips one bad item without
// leaving half of it behind (and on PostgreSQL a failed statement no longer
// spoils the whole transaction).
func (t *Tx) Savepoint(ctx context.Context, fn func() error) error {
	t.nsp++
	name := fmt.Sprintf("sp%d", t.nsp)
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	mark := len(t.undo)
	t.depth++
	err := fn()
	t.depth--
	if err != nil {
		if _, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return fmt.Errorf("rollback to savepoint: %w (after %v)", rerr, err)
		}
		for i := len(t.undo) - 1; i >= mark; i-- {
			t.undo[i]()
		}
		t.undo = t.undo[:mark]
		_, _ = t.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name)
		return err
	}
	if t.depth == 0 {
		t.undo = t.undo[:mark] // no outer savepoint can roll these back
	}
	if _, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// BeforeCommit registers fn to run inside the transaction just before it
// commits; an error rolls the whole transaction back. The audit log uses it
// to write a transaction's events together, holding the chain head only for
// that moment.
func (t *Tx) BeforeCommit(fn func() error) { t.before = append(t.before, fn) }

// BeforeCommitLast registers fn to run just before the transaction commits,
// after every BeforeCommit function; an error rolls the whole transaction
// back. It is for work that takes a lock other transactions wait for (the
// audit chain's head on PostgreSQL): taken last, it is held only for that
// work and the commit, not while other before-commit work runs.
func (t *Tx) BeforeCommitLast(fn func() error) { t.last = append(t.last, fn) }

// Value returns state another package keeps for this transaction.
func (t *Tx) Value(key any) any { return t.values[key] }

// SetValue keeps state for this transaction (a buffer, a memo of lookups).
func (t *Tx) SetValue(key, v any) {
	if t.values == nil {
		t.values = map[any]any{}
	}
	t.values[key] = v
}

// Dialect returns the engine of the transaction.
func (t *Tx) Dialect() Dialect { return t.db.Dialect }

// SQL returns the underlying database/sql transaction, for libraries that
// must join it (the job queue inserts its jobs in the caller's transaction).
// Queries through it are not rebound: they use the engine's own placeholders.
// Commit and rollback stay with InTx.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.db.Rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// PrepareHot prepares write statements that run in transaction after
// transaction, such as the audit chain's, on SQLite's writing connection,
// to be kept until the database closes; ExecHot and QueryRowHot then run
// them without parsing them again (Exec keeps a statement only until its
// transaction ends). Call it outside any transaction: it waits for the
// writing connection. Elsewhere than SQLite it does nothing.
func (db *DB) PrepareHot(ctx context.Context, qs ...string) error {
	if db.Dialect != SQLite {
		return nil
	}
	for _, q := range qs {
		st, err := db.W.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		if _, loaded := db.wstmts.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
	return nil
}

// ExecHot runs q in the transaction, as prepared by PrepareHot if it was.
func (t *Tx) ExecHot(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if v, ok := t.db.wstmts.Load(q); ok {
		return t.tx.StmtContext(ctx, v.(*sql.Stmt)).ExecContext(ctx, args...)
	}
	return t.Exec(ctx, q, args...)
}

// QueryRowHot runs the single-row query q in the transaction, as prepared
// by PrepareHot if it was.
func (t *Tx) QueryRowHot(ctx context.Context, q string, args ...any) *sql.Row {
	if v, ok := t.db.wstmts.Load(q); ok {
		return t.tx.StmtContext(ctx, v.(*sql.Stmt)).QueryRowContext(ctx, args...)
	}
	return t.QueryRow(ctx, q, args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = t.db.Rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// QueryRow runs a single-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.db.Rebind(q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// InTx runs fn in a write transaction, committing when fn returns nil and
// rolling back otherwise. A state change and its audit event are written
// through the same Tx, so they commit together or not at all.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &Tx{tx: tx, db: db}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return err
	}
	// Hooks may add hooks: every BeforeCommit hook runs before the
	// BeforeCommitLast hooks not yet run, and one a last hook adds runs
	// after it, before the commit.
	for b, l := 0, 0; b < len(t.before) || l < len(t.last); {
		var hook func() error
		if b < len(t.before) {
			hook, b = t.before[b], b+1
		} else {
			hook, l = t.last[l], l+1
		}
		if err := hook(); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Querier is what both *DB and *Tx offer for reads, so read helpers can run
// inside or outside a transaction.
type Querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// IsUniqueViolation reports whether err is a unique-constraint failure on
// either engine.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsNoRows reports whether err is sql.ErrNoRows.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Redact returns a database URL with its password hidden, for logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// StorableText reports whether s can be stored as text on both engines:
// PostgreSQL refuses NUL bytes and invalid UTF-8, and no person types them.
// The portal and the API refuse such input before it reaches a query.
func StorableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// StorableValues reports whether every name and value of a form or query
// string is StorableText.
func StorableValues(v map[string][]string) bool {
	for k, vs := range v {
		if !StorableText(k) {
			return false
		}
		for _, s := range vs {
			if !StorableText(s) {
				return false
			}
		}
	}
	return true
}
