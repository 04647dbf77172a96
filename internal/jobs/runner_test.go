package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/jobs"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fast polling keeps the tests short (100 ms is River's minimum);
// production polls every second.
var fast = jobs.Options{PollInterval: 100 * time.Millisecond}

// open returns a migrated database (CareGate's tables and River's).
func open(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// noteArgs is a test job: it records that it ran.
type noteArgs struct {
	N int `json:"n"`
}

func (noteArgs) Kind() string { return "test_note" }

// tally counts runs per job and per runner.
type tally struct {
	mu       sync.Mutex
	byJob    map[int]int
	byRunner map[string]int
	total    int
}

func newTally() *tally { return &tally{byJob: map[int]int{}, byRunner: map[string]int{}} }

func (c *tally) add(runner string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byJob[n]++
	c.byRunner[runner]++
	c.total++
}

func (c *tally) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	name string
	t    *tally
}

func (w *noteWorker) Work(ctx context.Context, job *river.Job[noteArgs]) error {
	w.t.add(w.name, job.Args.N)
	return nil
}

func newRunner(t *testing.T, db *store.DB) *jobs.Runner {
	t.Helper()
	r, err := jobs.NewWithOptions(db, quiet, clock.System{}, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return r
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countJobs(t *testing.T, db *store.DB, kind string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job WHERE kind = ?`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A job inserted in a transaction that rolls back never exists; one that
// commits is worked once.
func TestInsertTxJoinsTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		open(t, db)
		ctx := context.Background()
		c := newTally()
		r := newRunner(t, db)
		jobs.Register(r, &noteWorker{name: "a", t: c})

		boom := errors.New("change refused")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := r.InsertTx(ctx, tx, noteArgs{N: 1}, nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if n := countJobs(t, db, "test_note"); n != 0 {
			t.Fatalf("%d jobs after a rolled-back transaction, want 0", n)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := r.InsertTx(ctx, tx, noteArgs{N: 2}, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the committed job to run", 10*time.Second, func() bool { return c.count() == 1 })
		if c.byJob[1] != 0 || c.byJob[2] != 1 {
			t.Fatalf("runs by job: %v, want only job 2, once", c.byJob)
		}
	})
}

// Unique insertion skips a duplicate of a job that is still queued.
func TestInsertTxUnique(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		open(t, db)
		ctx := context.Background()
		r := newRunner(t, db)
		jobs.Register(r, &noteWorker{name: "a", t: newTally()})
		opts := &river.InsertOpts{UniqueOpts: jobs.UniqueWhileLive()}
		var got []bool
		for range 2 {
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				ok, err := r.InsertTx(ctx, tx, noteArgs{N: 7}, opts)
				got = append(got, ok)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !got[0] || got[1] {
			t.Fatalf("inserted = %v, want [true false]", got)
		}
	})
}

// Periodic work runs at start-up and then every interval, with the time of
// CareGate's clock.
func TestEvery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		open(t, db)
		ctx := context.Background()
		c := clock.NewManual(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		r, err := jobs.NewWithOptions(db, quiet, c, fast)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop(context.Background()) })
		var mu sync.Mutex
		var seen []time.Time
		r.Every("sweep", 300*time.Millisecond, func(ctx context.Context, now time.Time) error {
			mu.Lock()
			seen = append(seen, now)
			mu.Unlock()
			return nil
		})
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "three runs", 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 3 })
		mu.Lock()
		defer mu.Unlock()
		if !seen[0].Equal(c.Now()) {
			t.Fatalf("periodic work got %v, want the injected clock's %v", seen[0], c.Now())
		}
	})
}

// Stop is safe on a Runner never started, and twice.
func TestStopWithoutStart(t *testing.T) {
	db := open(t, storetest.OpenSQLite(t))
	r, err := jobs.New(db, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
}

// Migrating twice applies nothing the second time.
func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		n, err := jobs.Migrate(context.Background(), db)
		if err != nil || n == 0 {
			t.Fatalf("first Migrate = %d, %v; want some migrations", n, err)
		}
		if n, err := jobs.Migrate(context.Background(), db); err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0", n, err)
		}
	})
}

// Two caregate processes on one PostgreSQL database (two pools, two
// Runners, migrating at the same moment): every job runs exactly once, and
// periodic work runs once per interval, not once per process.
func TestTwoRunnersOnePostgres(t *testing.T) {
	base := storetest.PostgresURL(t)
	if base == "" {
		t.Skip("CAREGATE_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	url := storetest.NewSchema(t, base)
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(ctx, store.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	if _, err := dbs[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, db := range dbs {
		wg.Go(func() {
			if _, err := jobs.Migrate(ctx, db); err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("concurrent migration: %v", err)
	}

	c := newTally()
	var mu sync.Mutex
	periodicRuns := 0
	var runners [2]*jobs.Runner
	for i, db := range dbs {
		r := newRunner(t, db)
		jobs.Register(r, &noteWorker{name: fmt.Sprint("runner", i), t: c})
		r.Every("once", time.Hour, func(ctx context.Context, now time.Time) error {
			mu.Lock()
			periodicRuns++
			mu.Unlock()
			return nil
		})
		runners[i] = r
	}
	const n = 300
	for i := range n {
		r := runners[i%2]
		if err := dbs[i%2].InTx(ctx, func(tx *store.Tx) error {
			_, err := r.InsertTx(ctx, tx, noteArgs{N: i}, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range runners {
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every job to run", 30*time.Second, func() bool { return c.count() >= n })
	waitFor(t, "the periodic work to run", 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return periodicRuns > 0 })
	time.Sleep(1500 * time.Millisecond) // room for a duplicate run to show itself
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total != n {
		t.Errorf("%d runs for %d jobs", c.total, n)
	}
	for i := range n {
		if c.byJob[i] != 1 {
			t.Errorf("job %d ran %d times, want once", i, c.byJob[i])
		}
	}
	t.Logf("runs by runner: %v", c.byRunner)
	mu.Lock()
	defer mu.Unlock()
	if periodicRuns != 1 {
		t.Errorf("periodic work ran %d times with two runners, want once", periodicRuns)
	}
}
