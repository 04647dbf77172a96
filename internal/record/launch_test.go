package record_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// A launch token used on one instance is refused on another sharing the
// database: the used token ids are in the database, not in memory.
func TestLaunchReplayAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(7)
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p7", n, "Hill")); err != nil {
			t.Fatal(err)
		}
		f.person("nurse@nhs.net", "RX9", record.RoleCareProfessional, "active")
		admin := &authz.Principal{UserID: "admin-test", Email: "admin@nhs.net", Global: []string{authz.Admin}}
		priv, pub, err := record.NewSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := f.rec.CreateClinicalSystem(ctx, admin, record.ClientInput{OrganisationID: f.orgs["RX9"], Name: "EPR", JWKS: pub})
		if err != nil {
			t.Fatal(err)
		}
		other := record.New(record.Deps{DB: db, Audit: f.log, Clock: f.clk, Training: f.gate, Usage: f.marks, Sessions: f.users,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, record.Config{})
		defer other.Close()
		tok, err := record.Sign(priv, record.NewLaunchClaims(cs.ID, "nurse@nhs.net", "RX9", n, "caregate", f.clk.Now(), time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		l, err := f.rec.Launch(ctx, audit.Who{IP: "10.0.0.1"}, tok)
		if err != nil || l.NHSNumber != n || l.SessionToken == "" {
			t.Fatalf("launch: %+v %v", l, err)
		}
		if _, err := other.Launch(ctx, audit.Who{IP: "10.0.0.2"}, tok); code(err) != errs.Unauthenticated {
			t.Errorf("replay on another instance: %v", err)
		}
	})
}

// Concurrent reads each wait for their own audit event and share commits;
// the trail stays one valid chain with one event per read.
func TestConcurrentReadsAreEachAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(8)
		out, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p8", n, "Stone"))
		if err != nil {
			t.Fatal(err)
		}
		cp := f.person("many@nhs.net", "RX9", record.RoleCareProfessional, "active")
		before := f.countEvents("fhir.read", "success")
		var wg sync.WaitGroup
		errc := make(chan error, 200)
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.rec.Read(ctx, cp, "Patient", out[0].ID); err != nil {
					errc <- err
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if got := f.countEvents("fhir.read", "success") - before; got != 200 {
			t.Errorf("%d read events, want 200", got)
		}
		if _, err := audit.Verify(ctx, db); err != nil {
			t.Errorf("the chain does not verify: %v", err)
		}
	})
}

// A pass of the gate is remembered for a moment (GateFor); with it turned
// off, a deactivation applies to the very next request.
func TestGateMemory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		strict := record.New(record.Deps{DB: db, Audit: f.log, Clock: f.clk, Training: f.gate, Usage: f.marks,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, record.Config{GateFor: -1})
		defer strict.Close()
		// An hour rather than the default 2 s, so that a slow machine
		// cannot make the test depend on timing.
		memory := record.New(record.Deps{DB: db, Audit: f.log, Clock: f.clk, Training: f.gate, Usage: f.marks,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, record.Config{GateFor: time.Hour})
		defer memory.Close()
		p := f.person("brief@nhs.net", "RX9", record.RoleCareProfessional, "active")
		for _, s := range []*record.Service{memory, strict} {
			if _, err := s.Gate(ctx, p, record.ViaSearch); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(ctx, `UPDATE record_accounts SET status = 'deactivated' WHERE user_id = ?`, p.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := strict.Gate(ctx, p, record.ViaSearch); code(err) != errs.Forbidden {
			t.Errorf("without memory, a deactivated account passes: %v", err)
		}
		if _, err := memory.Gate(ctx, p, record.ViaSearch); err != nil {
			t.Errorf("within GateFor the pass should be remembered: %v", err)
		}
	})
}
