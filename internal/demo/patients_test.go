package demo_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// The population is deterministic, its NHS numbers valid, distinct and in
// the synthetic 999 range, and every patient has a record at their GP.
func TestPopulationIsDeterministicAndValid(t *testing.T) {
	nhs := demo.PatientNHSNumbers(demo.DemoPatients)
	seen := map[string]bool{}
	for _, n := range nhs {
		if !record.ValidNHSNumber(n) || n[:3] != "999" || seen[n] {
			t.Fatalf("NHS number %s: invalid, not synthetic or repeated", n)
		}
		seen[n] = true
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	if !reflect.DeepEqual(demo.PatientRecords(17, nhs[17], now), demo.PatientRecords(17, nhs[17], now)) {
		t.Fatal("the same patient came out differently")
	}
	orgs := map[string]int{}
	for i := 0; i < 300; i++ {
		for ods := range demo.PatientRecords(i, nhs[i], now) {
			orgs[ods]++
		}
	}
	if orgs["M85001"] != 300 || orgs["RX9"] < 100 || orgs["RY4"] == 0 || orgs["WSC01"] == 0 {
		t.Errorf("records per organisation: %v", orgs)
	}
}

// serve --demo loads the population once; the records pass ingest's checks.
func TestDemoPatientsLoad(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		a := demoApp(t, o)
		if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := demo.LoadPatients(ctx, a.DB, a.Record, 120, 50, nil); err != nil {
				t.Fatal(err)
			}
		}
		var patients, orgs int
		a.DB.QueryRow(ctx, `SELECT COUNT(DISTINCT nhs_number), COUNT(DISTINCT organisation_id) FROM record_resources`).Scan(&patients, &orgs)
		if patients != 120 || orgs != 4 {
			t.Errorf("%d patients from %d organisations", patients, orgs)
		}
	})
}
