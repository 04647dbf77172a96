package record_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// gate is a training gate the test sets.
type gate struct{ refuse map[string]string }

func (g *gate) AccessAllowed(ctx context.Context, userID string) (bool, string) {
	if why, ok := g.refuse[userID]; ok {
		return false, why
	}
	return true, ""
}

// marks records MarkUsed calls.
type marks struct{ ids []string }

func (m *marks) MarkUsed(ctx context.Context, at time.Time, ids ...string) error {
	m.ids = append(m.ids, ids...)
	return nil
}

// failingAudit refuses to write anything.
type failingAudit struct{ calls int }

func (f *failingAudit) Append(ctx context.Context, ev audit.Event) error {
	f.calls++
	return errors.New("audit store unavailable")
}
func (f *failingAudit) Record(ctx context.Context, tx *store.Tx, ev audit.Event) error {
	return errors.New("audit store unavailable")
}

type fixture struct {
	t     *testing.T
	db    *store.DB
	clk   *clock.Manual
	log   *audit.Log
	users *auth.Service
	rec   *record.Service
	gate  *gate
	marks *marks
	orgs  map[string]string // ODS → id
	pubs  map[string]*record.Publisher
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{t: t, db: db, clk: clock.NewManual(t0), gate: &gate{refuse: map[string]string{}}, marks: &marks{},
		orgs: map[string]string{}, pubs: map[string]*record.Publisher{}}
	f.log = audit.NewLog(db, f.clk)
	t.Cleanup(f.log.Close)
	f.users = auth.NewService(db, f.log, f.clk, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	f.rec = record.New(record.Deps{DB: db, Audit: f.log, Clock: f.clk, Training: f.gate, Usage: f.marks, Sessions: f.users,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, record.Config{})
	t.Cleanup(f.rec.Close)
	for _, ods := range []string{"RX9", "M85001"} {
		f.org(ods, "active")
	}
	return f
}

func (f *fixture) org(ods, status string) string {
	f.t.Helper()
	id := "org-" + ods
	if _, err := f.db.Exec(context.Background(), `INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'read_only', 'site_authoriser', 'nhs.net', 0, 0)`, id, ods, "Org "+ods, status); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.db.Exec(context.Background(), `INSERT INTO sites (id, organisation_id, name, status, created_at, updated_at) VALUES (?, ?, 'Main', 'active', 0, 0)`,
		"site-"+ods, id); err != nil {
		f.t.Fatal(err)
	}
	f.orgs[ods] = id
	f.pubs[ods] = &record.Publisher{ClientID: "client-" + ods, OrganisationID: id, ODS: ods}
	return id
}

// person makes an account with a record account of the role and status.
func (f *fixture) person(email, ods, role, status string) *authz.Principal {
	f.t.Helper()
	ctx := context.Background()
	u, err := f.users.CreateUser(ctx, audit.System, auth.NewUser{Email: email, GivenName: "Test", FamilyName: "Person"})
	if err != nil {
		f.t.Fatal(err)
	}
	if role != "" {
		if _, err := f.db.Exec(ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, activated_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, 0, 0)`, ident.New(), u.ID, f.orgs[ods], "u"+ident.New()[:8], role, status); err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.db.Exec(ctx, `INSERT INTO memberships (id, site_id, user_id, status, joined_at) VALUES (?, ?, ?, 'active', 0)`,
			ident.New(), "site-"+ods, u.ID); err != nil {
			f.t.Fatal(err)
		}
	}
	return &authz.Principal{UserID: u.ID, Email: u.Email}
}

// nhs returns a valid NHS number made from a seed.
func nhs(seed int) string {
	for i := seed; ; i++ {
		nine := fmt.Sprintf("999%06d", i%1000000)
		if d := record.NHSCheckDigit(nine); d >= 0 {
			return nine + fmt.Sprint(d)
		}
	}
}

// bundle builds a transaction Bundle of a patient and one resource of every
// other type.
func bundle(pid, number, family string) []byte {
	ref := map[string]any{"reference": "Patient/" + pid}
	cc := func(text string) map[string]any { return map[string]any{"text": text} }
	entries := []map[string]any{
		{"resourceType": "Patient", "id": pid, "identifier": []any{map[string]any{"system": record.NHSNumberSystem, "value": number}},
			"name": []any{map[string]any{"family": family, "given": []any{"Ann"}}}, "birthDate": "1950-03-04", "gender": "female",
			"address":             []any{map[string]any{"line": []any{"1 High Street"}, "city": "Leicester", "postalCode": "LE1 5AB"}},
			"generalPractitioner": []any{map[string]any{"display": "Meadow Lane Surgery"}}},
		{"resourceType": "Appointment", "id": pid + "-a1", "status": "booked", "start": "2026-12-01T10:00:00Z", "description": "Diabetes review",
			"participant": []any{map[string]any{"actor": ref, "status": "accepted"}}},
		{"resourceType": "Encounter", "id": pid + "-e1", "status": "finished", "subject": ref, "period": map[string]any{"start": "2026-10-01"},
			"type": []any{cc("Outpatient visit")}},
		{"resourceType": "Condition", "id": pid + "-c1", "subject": ref, "code": cc("Type 2 diabetes"), "onsetDateTime": "2019-05-01"},
		{"resourceType": "MedicationStatement", "id": pid + "-m1", "status": "active", "subject": ref, "medicationCodeableConcept": cc("Metformin 500mg"),
			"effectiveDateTime": "2026-01-01"},
		{"resourceType": "MedicationRequest", "id": pid + "-m2", "status": "active", "intent": "order", "subject": ref,
			"medicationCodeableConcept": cc("Ramipril 5mg"), "authoredOn": "2026-02-01"},
		{"resourceType": "AllergyIntolerance", "id": pid + "-al1", "patient": ref, "code": cc("Penicillin"), "recordedDate": "2010-01-01"},
		{"resourceType": "Observation", "id": pid + "-o1", "status": "final", "subject": ref, "code": cc("HbA1c"),
			"valueQuantity": map[string]any{"value": 48, "unit": "mmol/mol"}, "effectiveDateTime": "2026-09-01"},
		{"resourceType": "DocumentReference", "id": pid + "-d1", "status": "current", "subject": ref, "description": "Discharge letter", "date": "2026-10-02T12:00:00Z"},
	}
	var es []any
	for _, r := range entries {
		es = append(es, map[string]any{"resource": r, "request": map[string]any{"method": "PUT", "url": fmt.Sprint(r["resourceType"], "/", r["id"])}})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": es})
	return b
}

func code(err error) errs.Code {
	if err == nil {
		return ""
	}
	return errs.CodeOf(err)
}

// countEvents counts audit events of an action and outcome.
func (f *fixture) countEvents(action, outcome string) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = ? AND outcome = ?`, action, outcome).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) countResources() int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM record_resources`).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}
