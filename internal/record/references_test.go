package record_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// Served resources refer to their patient by the server's Patient id, not
// by the id their supplier gave it: by Patient/{supplier id}, or by a
// Bundle's fullUrl, each organisation's reference leads to its own Patient.
func TestServedReferencesPointAtServerPatients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(91)
		hospital, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p91", n, "Marsh"))
		if err != nil {
			t.Fatal(err)
		}
		// The GP sends the same person with its own id, and a problem that
		// refers to its Patient by the entry's fullUrl.
		gpBundle := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:0b8c9a1e-5d4f-4b7e-9c1a-2f3e4d5c6b7a","resource":{"resourceType":"Patient","id":"gp91",
				"identifier":[{"system":"` + record.NHSNumberSystem + `","value":"` + n + `"}],"name":[{"family":"Marsh"}]}},
			{"resource":{"resourceType":"Condition","id":"gp91-c","subject":{"reference":"urn:uuid:0b8c9a1e-5d4f-4b7e-9c1a-2f3e4d5c6b7a"},
				"code":{"text":"Asthma"}}}]}`
		gp, err := f.rec.Ingest(ctx, f.pubs["M85001"], []byte(gpBundle))
		if err != nil {
			t.Fatal(err)
		}
		cp := f.person("cp91@nhs.net", "RX9", record.RoleCareProfessional, "active")
		subjectOf := func(r *record.Resource, field string) string {
			t.Helper()
			b, err := r.Served()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if field == "participant" {
				return m["participant"].([]any)[0].(map[string]any)["actor"].(map[string]any)["reference"].(string)
			}
			return m[field].(map[string]any)["reference"].(string)
		}
		want := map[string]string{"RX9": "Patient/" + hospital[0].ID, "M85001": "Patient/" + gp[0].ID}
		set, err := f.rec.SearchResources(ctx, cp, "Condition", record.SearchParams{Patient: hospital[0].ID})
		if err != nil || len(set.Resources) != 2 {
			t.Fatalf("problems: %+v %v", set, err)
		}
		for i := range set.Resources {
			r := &set.Resources[i]
			if got := subjectOf(r, "subject"); got != want[r.ODS] {
				t.Errorf("%s's problem refers to %s, want %s", r.ODS, got, want[r.ODS])
			}
		}
		for _, st := range hospital[1:] {
			r, err := f.rec.Read(ctx, cp, st.Type, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.rec.LinkPatients(ctx, r); err != nil {
				t.Fatal(err)
			}
			field, ok := map[string]string{"Appointment": "participant", "AllergyIntolerance": "patient"}[st.Type]
			if !ok {
				field = "subject"
			}
			if got := subjectOf(r, field); got != want["RX9"] {
				t.Errorf("%s refers to %s, want %s", st.Type, got, want["RX9"])
			}
		}
		// The reference is one the FHIR API can read.
		if _, err := f.rec.Read(ctx, cp, "Patient", strings.TrimPrefix(want["M85001"], "Patient/")); err != nil {
			t.Errorf("reading the referred Patient: %v", err)
		}
	})
}
