package lifecycle_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// BenchmarkSweep times the daily sweeps (invitation expiry, inactivity
// warnings and deactivations, finishing-date reminders and ends) over
// 100,000 and 1,000,000 memberships of which 1% are due (a fifth of that
// to each rule), with their audit events and queued e-mails, on each
// engine; then a second sweep right after, which must change nothing. Run
// with:
//
//	CAREGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test \
//	  go test ./internal/lifecycle -run XXX -bench Sweep -benchtime 1x
//
// CAREGATE_BENCH_MEMBERS=100000 picks the sizes (comma-separated);
// CAREGATE_BENCH_DUE_EVERY=5000 makes one in 5,000 due for each step instead
// of one in 500 (1,000,000 with 1,000 due, to set beside 100,000 with 1,000
// due: the same work in a table ten times larger). The
// issue's target: ≤ 1 s for 1,000,000 memberships with 10,000 due, ≤ 200 ms
// for the second run. Seeding is set-based and not timed.
//
// Measured on 27 November 2026 on the 2-core development machine, shared
// with other engineers' builds and benchmarks (load average 1–6), first
// sweep / second sweep. Before: the code of 9a4222c; after: this code; each
// row is several runs, the pairs side by side in one session:
//
//	                             SQLite                 PostgreSQL
//	100,000 / 1,000 due, before  0.15–0.21 s / 1–2 ms   0.22–0.35 s / 6–11 ms
//	                     after   0.11–0.20 s / 1–3 ms   0.15–0.22 s / 7–9 ms
//	1,000,000 / 1,000,   after   0.18 s / 6 ms          0.20 s / 10 ms
//	1,000,000 / 10,000,  before  1.48–1.70 s / 6–10 ms  1.83–2.62 s / 21–36 ms
//	                     after   1.05–1.49 s / 5–11 ms  1.09–1.53 s / 21–39 ms
//	                             (once 1.78 s)
//
// The same 1,000 due cost about the same in a table ten times larger, and
// ten times the due about ten times as much: the time follows the number
// due, not the number of memberships. The first sweep of 10,000 due still
// misses the 1 s target on this machine. On SQLite the one writer's own work
// is about 1.1 s of CPU: page reads and log writes of the randomly placed
// rows (two to three pages changed a row, each table and index page a system
// call), 12,000 audit events and 9,000 e-mail rows; rendering the e-mails
// (0.4 s of CPU) now runs beside it. On PostgreSQL the server spends 1–1.6 s
// of CPU, mostly on the updates: every record_accounts update that changes a
// column of a partial index's condition is not HOT, so it writes a full page
// image and a new entry in each of its seven indexes, through a 128 MB
// buffer pool that has to write out a dirty page for each one it reads; the
// five rules now run at once, so the longest rule sets the time.
//
// 28 November 2026, same machine (now an fsync of 0.15 ms; another
// engineer's tests running beside), first sweep / second sweep, three
// alternating runs each of the code of adb5e1d (before) and of migration
// 0011 with the pick that locks no row (after):
//
//	                             SQLite                   PostgreSQL
//	100,000 / 1,000 due, before  0.082–0.094 s / 1 ms     0.112–0.159 s / 5–6 ms
//	                     after   0.084–0.096 s / 1 ms     0.115–0.127 s / 6–7 ms
//	1,000,000 / 10,000,  before  0.86–0.88 s / 5 ms       0.88–0.90 s / 21–24 ms
//	                             (once 1.41 s)            (once 1.29 s)
//	                     after   0.82–0.87 s / 5 ms       0.78–0.83 s / 22–32 ms
//
// SQLite's sweep is unchanged (its statements are the same). On PostgreSQL
// the warning, the finishing-date reminder and the memberships' ends are now
// HOT updates and no row is locked before its update: after a checkpoint,
// the first sweep writes 106 MB of log instead of 145 MB (most of it whole
// pages, the first change of each after the checkpoint), and the server
// spends about 0.8 s of CPU instead of 0.95 s. The second sweep's warning
// rule now walks the accounts warned in the last 14 days (a few ms more).
// Under the other engineer's load either engine can still take 1.2–1.4 s:
// the machine's two cores are the limit. The sweep needs 1.1 s of CPU on
// SQLite (0.8 s of it the one writer's) and 1.3 s on PostgreSQL (0.8 s in
// the server, 0.5 s here, mostly rendering e-mails and the driver).
func BenchmarkSweep(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("CAREGATE_BENCH_MEMBERS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1000 {
				b.Fatalf("CAREGATE_BENCH_MEMBERS: %q", v)
			}
			sizes = append(sizes, n)
		}
	}
	every := 500
	if v := os.Getenv("CAREGATE_BENCH_DUE_EVERY"); v != "" {
		var err error
		if every, err = strconv.Atoi(v); err != nil || every < 100 || every%10 != 0 {
			b.Fatalf("CAREGATE_BENCH_DUE_EVERY: %q (a multiple of 10, at least 100)", v)
		}
	}
	for _, e := range storetest.Engines(b) {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", e.Name, n), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					db := e.Open(b)
					ctx := context.Background()
					c := clock.NewManual(t0)
					seedStart := time.Now()
					due := seed(b, db, c.Now(), n, every)
					seeded := time.Since(seedStart)
					l := audit.NewLog(db, c)
					var logger *slog.Logger // CAREGATE_BENCH_DEBUG=1 logs each rule's time
					if os.Getenv("CAREGATE_BENCH_DEBUG") != "" {
						logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
					}
					svc, err := lifecycle.NewService(db, l, c, notify.NewOutbox(c), logger, lifecycle.Config{BaseURL: "https://caregate.example"})
					if err != nil {
						b.Fatal(err)
					}
					stopProfile := profile(b, e.Name, n)
					pages(b, db) // resets the counts
					b.StartTimer()
					start := time.Now()
					r, err := svc.Sweep(ctx)
					first := time.Since(start)
					stopProfile()
					missed, written := pages(b, db)
					if err != nil {
						b.Fatal(err)
					}
					start = time.Now()
					r2, err := svc.Sweep(ctx)
					second := time.Since(start)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					l.Close()
					want := lifecycle.Result{InvitationsExpired: due, InactivityWarned: due, InactiveDeactivated: due,
						FinishingReminded: due, FinishedAccounts: due, FinishedMemberships: due, Emails: r.Emails}
					if r != want || r2.Changed() {
						b.Fatalf("first sweep %+v, want %+v; second %+v", r, want, r2)
					}
					var events, mails int
					if err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM audit_events), (SELECT COUNT(*) FROM outbox)`).Scan(&events, &mails); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(5*due), "due")
					b.ReportMetric(float64(events), "audit-events")
					b.ReportMetric(float64(mails), "emails")
					b.ReportMetric(first.Seconds(), "s-first")
					b.ReportMetric(float64(second.Microseconds())/1000, "ms-second")
					b.ReportMetric(seeded.Seconds(), "s-seed")
					if db.Dialect == store.SQLite {
						b.ReportMetric(float64(missed), "pages-read")
						b.ReportMetric(float64(written), "pages-written")
					}
					b.StartTimer()
				}
			})
		}
	}
}

// profile writes a CPU profile of the first sweep alone (not the seeding)
// to $CAREGATE_BENCH_CPUPROFILE-ENGINE-SIZE when that is set.
func profile(b testing.TB, engine string, n int) func() {
	base := os.Getenv("CAREGATE_BENCH_CPUPROFILE")
	if base == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s-%s-%d", base, engine, n))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// pages returns how many pages SQLite's writing connection read from the
// file (missed in its cache) and wrote since the last call, and resets the
// counts: unlike time on a shared machine, these do not vary between runs.
// On PostgreSQL it returns zeros.
func pages(b testing.TB, db *store.DB) (missed, written int) {
	if db.Dialect != store.SQLite {
		return 0, 0
	}
	conn, err := db.W.Conn(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(interface {
			Status(sqlite.DBStatusOp, bool) (int, int, error)
		})
		if !ok {
			return fmt.Errorf("SQLite connection %T has no Status", dc)
		}
		var err error
		if missed, _, err = c.Status(sqlite.DBStatusCacheMiss, true); err != nil {
			return err
		}
		written, _, err = c.Status(sqlite.DBStatusCacheWrite, true)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return missed, written
}

// seed fills db with n members, each with one membership and a record
// account, at n/1,000 sites (one authoriser each) of 10 organisations, and
// n/10 pending invitations. One member in every (500 by default) is due for
// each of the five rule steps (1% in all; invitations due are n/every too); the others are
// spread so that they are not due: recent use, finishing dates further
// off, warnings and reminders already sent, pending accounts. It returns
// the number due for each step.
func seed(b testing.TB, db *store.DB, now time.Time, n, every int) int {
	b.Helper()
	ctx := context.Background()
	loc, _ := time.LoadLocation("Europe/London")
	date := func(days int) string { return now.In(loc).AddDate(0, 0, days).Format(time.DateOnly) }
	const dayMicros = int64(24 * time.Hour / time.Microsecond)
	t := now.UnixMicro()
	sites := max(n/1000, 1)
	// series is a table s(i) of 1..k on either engine.
	series := func(k int) string {
		if db.Dialect == store.Postgres {
			return fmt.Sprintf(`generate_series(1, %d) AS s(i)`, k)
		}
		return fmt.Sprintf(`(WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < %d) SELECT i FROM r) AS s`, k)
	}
	// Member i is at site 1 + (i / 500) % sites, so that each site has
	// members of every kind below and the due are spread over the sites.
	// kind picks a member's part by i: 0–4 due (inactive, warning,
	// finishing end, finishing reminder, and their invitation), 5 warned
	// already, 6 reminded already, 7–9 pending, 10–59 temporary staff
	// ending later, the rest permanent staff in regular use.
	kind := fmt.Sprintf(`(i %% %d)`, every)
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
			SELECT 'o' || i, 'ODS' || i, 'Organisation ' || i, 'active', 'read_only', 'site_authoriser', 'nhs.net', ?, ? FROM ` + series(10), []any{t, t}},
		{`INSERT INTO sites (id, organisation_id, name, status, created_at, updated_at)
			SELECT 's' || i, 'o' || (1 + i % 10), 'Site ' || i, 'active', ?, ? FROM ` + series(sites), []any{t, t}},
		{`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at)
			SELECT 'a' || i, 'auth' || i || '@nhs.net', 'Auth', 'Person' || i, ?, ? FROM ` + series(sites), []any{t, t}},
		{`INSERT INTO site_authorisers (site_id, user_id, created_at) SELECT 's' || i, 'a' || i, ? FROM ` + series(sites), []any{t}},
		{`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at)
			SELECT 'u' || i, 'member' || i || '@nhs.net', 'Member', 'Person' || i, ?, ? FROM ` + series(n), []any{t, t}},
		{`INSERT INTO memberships (id, site_id, user_id, status, joined_at, finishing_date, updated_at)
			SELECT 'm' || i, 's' || (1 + (i / 500) % ?), 'u' || i, 'active', ?,
				CASE WHEN ` + kind + ` = 2 THEN ? WHEN ` + kind + ` IN (3, 6) THEN ? WHEN ` + kind + ` BETWEEN 10 AND 59 THEN ? ELSE '' END, ?
			FROM ` + series(n), []any{sites, t, date(0), date(7), date(100), t}},
		{`INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, finishing_date, activated_at, idle_from,
				inactivity_warned_at, finish_reminded_for, created_at, updated_at)
			SELECT 'r' || i, 'u' || i, 'o' || (1 + (1 + (i / 500) % ?) % 10), 'user' || i, 'care_professional',
				CASE WHEN ` + kind + ` BETWEEN 7 AND 9 THEN 'pending' ELSE 'active' END,
				CASE WHEN ` + kind + ` = 2 THEN ? WHEN ` + kind + ` IN (3, 6) THEN ? WHEN ` + kind + ` BETWEEN 10 AND 59 THEN ? ELSE '' END,
				CASE WHEN ` + kind + ` BETWEEN 7 AND 9 THEN 0 ELSE CAST(? AS BIGINT) END,
				CASE WHEN ` + kind + ` BETWEEN 7 AND 9 THEN 0 WHEN ` + kind + ` = 0 THEN CAST(? AS BIGINT) WHEN ` + kind + ` IN (1, 5) THEN CAST(? AS BIGINT)
					ELSE CAST(? AS BIGINT) - (i % 70 + 1) * CAST(? AS BIGINT) END,
				CASE WHEN ` + kind + ` = 5 THEN CAST(? AS BIGINT) ELSE 0 END,
				CASE WHEN ` + kind + ` = 6 THEN ? ELSE '' END, ?, ?
			FROM ` + series(n), []any{sites, date(0), date(7), date(100), t - 200*dayMicros, t - 95*dayMicros, t - 80*dayMicros, t, dayMicros,
			t - dayMicros, date(7), t, t}},
		{`INSERT INTO invitations (id, site_id, organisation_id, given_name, family_name, email, phone, job_title, job_category, record_role,
				ig_confirmed, token_hash, status, open_key, created_by, created_at, expires_at, sent_at, updated_at)
			SELECT 'i' || i, 's' || (1 + i % ?), 'o' || (1 + (1 + i % ?) % 10), 'Ivy', 'Invitee' || i, 'invitee' || i || '@nhs.net', '01234 567890', 'Nurse',
				'Nursing and midwifery', 'care_professional', 1, 'h' || i, 'pending', 's' || (1 + i % ?) || ':invitee' || i || '@nhs.net', 'a1',
				CAST(? AS BIGINT) - (CASE WHEN i % ` + strconv.Itoa(every/10) + ` = 4 THEN 31 ELSE i % 29 END) * CAST(? AS BIGINT),
				CAST(? AS BIGINT) - (CASE WHEN i % ` + strconv.Itoa(every/10) + ` = 4 THEN 1 ELSE i % 29 - 30 END) * CAST(? AS BIGINT), ?, ?
			FROM ` + series(n/10), []any{sites, sites, sites, t, dayMicros, t, dayMicros, t, t}},
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s.q, s.args...); err != nil {
				return fmt.Errorf("%s: %w", s.q[:60], err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// Fresh statistics, as a database in use has.
	if _, err := db.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return n / every
}
