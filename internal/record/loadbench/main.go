// Command loadbench measures audited record reads against the real HTTP
// server on loopback. It has two halves, run as two processes so that the
// server's peak memory can be measured on its own (/usr/bin/time -v):
//
//	go build -o /tmp/loadbench ./internal/record/loadbench
//	/usr/bin/time -v /tmp/loadbench serve --data DIR [--database-url URL] --patients 100000 --out targets.json &
//	/tmp/loadbench load --targets targets.json --conns 64 --duration 10s
//
// serve loads the synthetic population once (it stays in the data directory
// or database for later runs), makes a Care Professional with an active
// record account, and serves three listeners in one process:
//   - the application itself (FHIR Patient/{id} and the patient summary,
//     both audited, each response waiting for its event's commit);
//   - the same handlers over a record service whose audit log does nothing
//     (the unaudited read of the same data: same authentication, gate,
//     queries and rendering);
//   - a plain net/http handler returning a fixed body.
//
// load drives each with the same number of connections for the same time
// and prints requests per second, the 50th and 99th percentile latency,
// and the ratios the issue sets targets for.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/fhirapi"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/web"
)

// targets is what serve tells load.
type targets struct {
	App, Unaudited, Plain string   // base URLs
	CPU                   string   // the server's CPU time used so far (user+system, in µs)
	Token                 string   // the Care Professional's API token
	Cookie                string   // their portal session
	PatientIDs            []string // FHIR Patient ids
	NHSNumbers            []string
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadbench serve|load [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// noAudit is an audit log that writes nothing: the unaudited baseline.
type noAudit struct{}

func (noAudit) Append(context.Context, audit.Event) error            { return nil }
func (noAudit) Record(context.Context, *store.Tx, audit.Event) error { return nil }

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	data := fs.String("data", "loadbench-data", "SQLite data directory")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (instead of SQLite)")
	n := fs.Int("patients", 100000, "synthetic patients to load (once)")
	out := fs.String("out", "targets.json", "where to write the targets for load")
	profile := fs.String("pprof", "", "serve CPU profiles at this address (e.g. 127.0.0.1:6060)")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app.TuneMemory() // as caregate serve does
	a, err := app.New(ctx, app.Config{DataDir: *data, DatabaseURL: *dbURL, Addr: "127.0.0.1:0", Demo: true},
		app.Options{Log: log, DemoAccounts: demo.Accounts()})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
		return err
	}
	start := time.Now()
	if err := demo.LoadPatients(ctx, a.DB, a.Record, *n, 500, func(done int) {
		if done%10000 == 0 {
			fmt.Fprintf(os.Stderr, "loaded %d patients in %s\n", done, time.Since(start).Round(time.Second))
		}
	}); err != nil {
		return err
	}
	t := &targets{}
	if t.Token, t.Cookie, err = benchUser(ctx, a); err != nil {
		return err
	}
	rows, err := a.DB.Query(ctx, `SELECT id, nhs_number FROM record_resources WHERE resource_type = 'Patient' AND organisation_id =
		(SELECT id FROM organisations WHERE ods_code = 'M85001') ORDER BY id LIMIT 20000`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, nhs string
		rows.Scan(&id, &nhs)
		t.PatientIDs, t.NHSNumbers = append(t.PatientIDs, id), append(t.NHSNumbers, nhs)
	}
	rows.Close()

	// The unaudited twin: the same handlers over a record service whose
	// audit log does nothing.
	quiet := record.New(record.Deps{DB: a.DB, Audit: noAudit{}, Clock: a.Clock, Training: a.Training, Usage: a.Access, Sessions: a.Users, Log: log},
		record.Config{})
	defer quiet.Close()
	assets, err := web.NewAssets()
	if err != nil {
		return err
	}
	qw, err := web.New(web.Deps{DB: a.DB, Users: a.Users, Orgs: a.Orgs, Access: a.Access, Audit: a.Audit, Auth: a.Auth, Clock: a.Clock,
		Assets: assets, Log: log, Training: a.Training, Outbox: a.Outbox, Onboarding: a.Onboarding, Record: quiet})
	if err != nil {
		return err
	}
	qmux := http.NewServeMux()
	qw.Register(qmux)
	fhirapi.New(quiet, log, "").Register(qmux)

	listen := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		go func() { <-ctx.Done(); srv.Close() }()
		return "http://" + ln.Addr().String(), nil
	}
	if t.App, err = listen(a.Handler()); err != nil {
		return err
	}
	if t.Unaudited, err = listen(a.Auth.Identify(qmux)); err != nil {
		return err
	}
	// The server's CPU time, so that load can report each scenario's CPU
	// per request: on a machine shared with other work, throughput and
	// latency vary from run to run, CPU per request far less.
	if t.CPU, err = listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		fmt.Fprint(w, ru.Utime.Nano()/1000+ru.Stime.Nano()/1000)
	})); err != nil {
		return err
	}
	fixed := []byte(`{"resourceType":"Patient","id":"fixed"}`)
	if t.Plain, err = listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(fixed)
	})); err != nil {
		return err
	}
	if *profile != "" {
		// CPU profiles of the server while load runs, for finding where
		// the time goes: go tool pprof http://ADDR/debug/pprof/profile
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go http.ListenAndServe(*profile, pm)
	}
	b, _ := json.Marshal(t)
	if err := os.WriteFile(*out, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "serving (%s); targets in %s\n", a.DB.Dialect, *out)
	<-ctx.Done()
	return nil
}

// benchUser makes (once) a Care Professional of the GP practice with an
// active record account, and returns an API token and a session cookie.
func benchUser(ctx context.Context, a *app.App) (token, cookie string, err error) {
	const email = "bench.clinician@nhs.net"
	u, err := a.Users.UserByEmail(ctx, email)
	if err != nil {
		if u, err = a.Users.CreateUser(ctx, audit.System, auth.NewUser{Email: email, GivenName: "Bench", FamilyName: "Clinician"}); err != nil {
			return "", "", err
		}
		err = a.DB.InTx(ctx, func(tx *store.Tx) error {
			var orgID, siteID string
			if err := tx.QueryRow(ctx, `SELECT o.id, s.id FROM organisations o JOIN sites s ON s.organisation_id = o.id WHERE o.ods_code = 'M85001'`).
				Scan(&orgID, &siteID); err != nil {
				return err
			}
			if err := a.Orgs.AddMemberTx(ctx, tx, audit.System, ident.New(), siteID, u.ID, "GP", "Medical"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, activated_at, created_at, updated_at)
				VALUES (?, ?, ?, 'bench.clinician', ?, 'active', 1, 1, 1)`, ident.New(), u.ID, orgID, record.RoleCareProfessional)
			return err
		})
		if err != nil {
			return "", "", err
		}
	}
	if token, _, err = a.Users.CreateToken(ctx, audit.System, u.ID, "loadbench"); err != nil {
		return "", "", err
	}
	err = a.DB.InTx(ctx, func(tx *store.Tx) error {
		cookie, _, err = a.Users.NewLaunchSessionTx(ctx, tx, audit.Who{UserID: u.ID, Email: email}, u.ID)
		return err
	})
	if p, _ := authz.Load(ctx, a.DB, u); p != nil {
		if _, gerr := a.Record.Gate(ctx, p, record.ViaSearch); gerr != nil {
			return "", "", fmt.Errorf("the bench user cannot open the record: %w", gerr)
		}
	}
	return token, cookie, err
}

type result struct {
	name      string
	n, errors int64
	rps       float64
	p50, p99  time.Duration
	cpu       time.Duration // the server's CPU time over the scenario
}

// serverCPU reads the server's CPU time so far (zero if it does not say).
func serverCPU(url string) time.Duration {
	if url == "" {
		return 0
	}
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var us int64
	fmt.Fscan(resp.Body, &us)
	return time.Duration(us) * time.Microsecond
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	in := fs.String("targets", "targets.json", "written by serve")
	conns := fs.Int("conns", 64, "concurrent connections")
	dur := fs.Duration("duration", 10*time.Second, "per scenario")
	rounds := fs.Int("rounds", 5, "rounds the duration is split into, the scenarios taking turns")
	only := fs.String("only", "", "run only the scenarios whose name contains this")
	fs.Parse(args)
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var t targets
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	if len(t.PatientIDs) == 0 {
		return errors.New("no patients in the targets")
	}
	fhir := func(base string) func(r *rand.Rand) *http.Request {
		return func(r *rand.Rand) *http.Request {
			req, _ := http.NewRequest("GET", base+"/fhir/R4/Patient/"+t.PatientIDs[r.IntN(len(t.PatientIDs))], nil)
			req.Header.Set("Authorization", "Bearer "+t.Token)
			return req
		}
	}
	summary := func(base string) func(r *rand.Rand) *http.Request {
		return func(r *rand.Rand) *http.Request {
			req, _ := http.NewRequest("GET", base+"/record/patients/"+t.NHSNumbers[r.IntN(len(t.NHSNumbers))], nil)
			req.AddCookie(&http.Cookie{Name: "caregate_session", Value: t.Cookie})
			return req
		}
	}
	type scenario struct {
		name string
		mk   func(r *rand.Rand) *http.Request
	}
	scenarios := []scenario{
		{"plain net/http fixed body", func(r *rand.Rand) *http.Request { req, _ := http.NewRequest("GET", t.Plain+"/", nil); return req }},
		{"FHIR Patient/{id} unaudited", fhir(t.Unaudited)},
		{"FHIR Patient/{id} audited", fhir(t.App)},
		{"patient summary unaudited", summary(t.Unaudited)},
		{"patient summary audited", summary(t.App)},
	}
	if *only != "" {
		var keep []scenario
		for _, sc := range scenarios {
			if strings.Contains(sc.name, *only) {
				keep = append(keep, sc)
			}
		}
		scenarios = keep
	}
	// The scenarios take turns in short rounds, so that a burst of other
	// work on a shared machine falls on all of them alike.
	acc := make([]result, len(scenarios))
	lats := make([][]time.Duration, len(scenarios))
	spent := make([]time.Duration, len(scenarios))
	for round := 0; round < *rounds; round++ {
		for i, sc := range scenarios {
			cpu0 := serverCPU(t.CPU)
			r, l, el := run(sc.name, sc.mk, *conns, *dur/time.Duration(*rounds))
			acc[i].cpu += serverCPU(t.CPU) - cpu0
			acc[i].name = sc.name
			acc[i].n += r.n
			acc[i].errors += r.errors
			lats[i] = append(lats[i], l...)
			spent[i] += el
		}
	}
	res := acc
	for i := range res {
		r := &res[i]
		r.rps = float64(r.n) / spent[i].Seconds()
		r.p50, r.p99 = quantile(lats[i], 0.5), quantile(lats[i], 0.99)
		fmt.Printf("%-30s %8d req %6d err %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  server CPU %5.0f µs/req\n", r.name, r.n, r.errors, r.rps,
			float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, float64(r.cpu.Microseconds())/float64(max(r.n, 1)))
	}
	if len(res) != 5 {
		return nil
	}
	plain := res[0].rps
	fmt.Printf("\nratios to the plain handler: FHIR audited %.3f, summary audited %.3f\n", res[2].rps/plain, res[4].rps/plain)
	fmt.Printf("audited / unaudited throughput: FHIR %.3f, summary %.3f (target ≥ 0.5)\n", res[2].rps/res[1].rps, res[4].rps/res[3].rps)
	cpu := func(r result) float64 { return float64(r.cpu) / float64(max(r.n, 1)) }
	fmt.Printf("server CPU per request, plain / audited: FHIR %.3f, summary %.3f\n", cpu(res[0])/cpu(res[2]), cpu(res[0])/cpu(res[4]))
	return nil
}

func run(name string, mk func(r *rand.Rand) *http.Request, conns int, dur time.Duration) (result, []time.Duration, time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	// Warm up: open the connections.
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Do(mk(rand.New(rand.NewPCG(uint64(i), 2)))); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	var n, errs atomic.Int64
	lat := make([][]time.Duration, conns)
	deadline := time.Now().Add(dur)
	start := time.Now()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				req := mk(r)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
				}
				n.Add(1)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return result{name: name, n: n.Load(), errors: errs.Load()}, all, elapsed
}

func quantile(all []time.Duration, p float64) time.Duration {
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[min(len(all)-1, int(p*float64(len(all))))]
}
