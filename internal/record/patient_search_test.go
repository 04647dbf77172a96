package record_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// patients is a transaction Bundle of Patients only, all with the same
// family name and date of birth.
func patients(t *testing.T, prefix, family string, numbers []string) []byte {
	t.Helper()
	var rs []string
	for i, n := range numbers {
		b, _ := json.Marshal(map[string]any{"resourceType": "Patient", "id": fmt.Sprintf("%s%d", prefix, i),
			"identifier": []any{map[string]any{"system": record.NHSNumberSystem, "value": n}},
			"name":       []any{map[string]any{"family": family, "given": []any{"Sam"}, "prefix": []any{"Mx"}}}, "birthDate": "1980-01-02",
			"gender": "other", "telecom": []any{map[string]any{"system": "phone", "value": "0113 496 0000"}},
			"address": []any{map[string]any{"line": []any{"9 Secret Row"}, "postalCode": "LS1 4AP"}}})
		rs = append(rs, string(b))
	}
	return inBundle(t, rs...)
}

// The FHIR Patient search discloses what the portal's search does and no
// more — one minimal Patient per person, tagged SUBSETTED — and stops at
// the same 20 people, saying how many matched.
func TestFHIRPatientSearchDisclosesOnlyEnoughToPick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(61)
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p61", n, "Fenwick")); err != nil {
			t.Fatal(err)
		}
		// The GP knows the same person: still one match.
		if _, err := f.rec.Ingest(ctx, f.pubs["M85001"], bundle("gp61", n, "Fenwick")); err != nil {
			t.Fatal(err)
		}
		cp := f.person("cp61@nhs.net", "RX9", record.RoleCareProfessional, "active")
		set, err := f.rec.SearchResources(ctx, cp, "Patient", record.SearchParams{Query: record.Query{NHSNumber: n}})
		if err != nil || len(set.Resources) != 1 || set.Total != 1 {
			t.Fatalf("search by NHS number: %+v %v", set, err)
		}
		served, err := set.Resources[0].Served()
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(served, &p); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range p {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"address", "birthDate", "gender", "id", "identifier", "meta", "name", "resourceType"}; !slices.Equal(keys, want) {
			t.Errorf("a search result carries %v, want %v", keys, want)
		}
		if s := string(served); strings.Contains(s, "High Street") || strings.Contains(s, "Meadow Lane") || !strings.Contains(s, `"address":[{"postalCode":"LE1"}]`) ||
			!strings.Contains(s, `"code":"SUBSETTED"`) || !strings.Contains(s, `"family":"Fenwick"`) || p["id"] != set.Resources[0].ID {
			t.Errorf("search result: %s", s)
		}
		// The whole Patient is a read, audited as such.
		if r, err := f.rec.Read(ctx, cp, "Patient", set.Resources[0].ID); err != nil || !strings.Contains(string(r.Body), "High Street") {
			t.Errorf("read of the match: %v", err)
		}

		// 25 people of the same name and birth date: the first 20.
		var many []string
		for i := range 25 {
			many = append(many, nhs(700+i*13))
		}
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], patients(t, "many", "Ashdown", many)); err != nil {
			t.Fatal(err)
		}
		q := record.Query{Family: "Ashdown", BirthDate: "1980-01-02"}
		set, err = f.rec.SearchResources(ctx, cp, "Patient", record.SearchParams{Query: q})
		if err != nil || len(set.Resources) != 20 || set.Total != 25 {
			t.Fatalf("a broad FHIR search: %d resources, total %d, %v", len(set.Resources), set.Total, err)
		}
		for _, r := range set.Resources {
			if strings.Contains(string(r.Body), "Secret Row") || strings.Contains(string(r.Body), "0113") || strings.Contains(string(r.Body), "Mx") {
				t.Fatalf("a broad search disclosed more than needed: %s", r.Body)
			}
		}
		ms, total, err := f.rec.Search(ctx, cp, record.ViaSearch, q)
		if err != nil || len(ms) != 20 || total != 25 || ms[0].NHSNumber != set.Resources[0].NHSNumber || ms[0].PostcodeDistrict != "LS1" {
			t.Fatalf("the portal's search of the same: %d %v", len(ms), err)
		}
		var detail string
		if err := db.QueryRow(ctx, `SELECT detail FROM audit_events WHERE action = 'fhir.search' AND detail LIKE '%"matched":"25"%'`).Scan(&detail); err != nil ||
			!strings.Contains(detail, `"results":"20"`) {
			t.Errorf("the broad search's audit event: %q %v", detail, err)
		}
		// It is not paged: a cursor is refused (and audited), not ignored,
		// which would give the same 20 again.
		before := f.countEvents("fhir.search", audit.Refused)
		set, err = f.rec.SearchResources(ctx, cp, "Patient", record.SearchParams{Query: q, Cursor: "MjAyNS0wMS0wOQBhYmM"})
		if fe := errs.As(err).Fields; errs.CodeOf(err) != errs.Invalid || set != nil || len(fe) != 1 || fe[0].Field != "_cursor" {
			t.Errorf("a Patient search with a cursor: %v, %v; want Invalid on _cursor", set, err)
		}
		// Nor is a page size taken and ignored.
		set, err = f.rec.SearchResources(ctx, cp, "Patient", record.SearchParams{Query: q, Count: 5})
		if fe := errs.As(err).Fields; errs.CodeOf(err) != errs.Invalid || set != nil || len(fe) != 1 || fe[0].Field != "_count" {
			t.Errorf("a Patient search with a page size: %v, %v; want Invalid on _count", set, err)
		}
		if n := f.countEvents("fhir.search", audit.Refused) - before; n != 2 {
			t.Errorf("%d refused Patient searches audited, want 2", n)
		}
	})
}
