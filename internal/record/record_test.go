package record_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestNHSNumber(t *testing.T) {
	for s, want := range map[string]bool{"9434765919": true, "943 476 5919": false, "9434765918": false, "123": false, "abcdefghij": false} {
		if got := record.ValidNHSNumber(s); got != want {
			t.Errorf("ValidNHSNumber(%q) = %v, want %v", s, got, want)
		}
	}
	if !record.ValidNHSNumber(record.NormaliseNHSNumber("943 476 5919")) {
		t.Error("spaces are not normalised")
	}
}

func TestIngestAndRoleFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(1)
		out, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p1", n, "Smith"))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 9 || out[0].Outcome != "created" {
			t.Fatalf("ingest: %+v", out)
		}
		// Idempotent: the same bundle again changes nothing and adds nothing.
		again, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p1", n, "Smith"))
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Outcome != "unchanged" || again[0].ID != out[0].ID || f.countResources() != 9 {
			t.Fatalf("re-send: %+v, %d rows", again[0], f.countResources())
		}
		// A changed re-send updates in place.
		upd, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p1", n, "Smyth"))
		if err != nil || upd[0].Outcome != "updated" || upd[0].Version != 2 || f.countResources() != 9 {
			t.Fatalf("update: %+v %v", upd, err)
		}

		cp := f.person("cp@nhs.net", "RX9", record.RoleCareProfessional, "active")
		adm := f.person("adm@nhs.net", "RX9", record.RoleAdministrator, "active")
		for _, sec := range record.Sections {
			v, err := f.rec.Record(ctx, cp, record.ViaSearch, n, sec)
			if err != nil {
				t.Fatalf("care professional, %s: %v", sec, err)
			}
			if v.Patient.Name != "Ann SMYTH" || v.Patient.GPPractice != "Meadow Lane Surgery" || v.Patient.Address != "1 High Street, Leicester, LE1 5AB" ||
				v.Patient.Gender == "" || v.Patient.BirthDate == "" {
				t.Fatalf("banner: %+v", v.Patient)
			}
			if sec != record.Summary && len(v.Items) == 0 {
				t.Errorf("care professional sees no %s", sec)
			}
			for _, it := range v.Items {
				if it.ODS != "RX9" || it.Organisation == "" || it.UpdatedAt.IsZero() {
					t.Errorf("item without provenance: %+v", it)
				}
			}
			_, err = f.rec.Record(ctx, adm, record.ViaSearch, n, sec)
			if want := record.RoleSees(record.RoleAdministrator, sec); (err == nil) != want {
				t.Errorf("administrator, %s: err %v, want allowed=%v", sec, err, want)
			}
			if err != nil && code(err) != errs.Forbidden {
				t.Errorf("administrator, %s: %v", sec, err)
			}
		}
		// The administrator's default view is appointments.
		v, err := f.rec.Record(ctx, adm, record.ViaSearch, n, "")
		if err != nil || v.Section != record.Appointments || len(v.Sections) != 1 {
			t.Fatalf("administrator default view: %+v %v", v, err)
		}
		if f.countEvents("record.section", "refused") != 7 {
			t.Errorf("refused sections audited: %d", f.countEvents("record.section", "refused"))
		}
		// FHIR: every type, by role.
		for _, st := range out {
			r, err := f.rec.Read(ctx, cp, st.Type, st.ID)
			if err != nil || r.NHSNumber != n {
				t.Errorf("care professional read %s: %v", st.Type, err)
			}
			_, err = f.rec.Read(ctx, adm, st.Type, st.ID)
			want := st.Type == "Patient" || st.Type == "Appointment"
			if (err == nil) != want {
				t.Errorf("administrator read %s: %v", st.Type, err)
			}
			if st.Type != "Patient" {
				set, err := f.rec.SearchResources(ctx, cp, st.Type, record.SearchParams{Patient: "Patient/" + out[0].ID})
				if err != nil || len(set.Resources) == 0 || set.Total != len(set.Resources) {
					t.Errorf("care professional search %s: %+v %v", st.Type, set, err)
				}
				_, err = f.rec.SearchResources(ctx, adm, st.Type, record.SearchParams{Patient: out[0].ID})
				if (err == nil) != want {
					t.Errorf("administrator search %s: %v", st.Type, err)
				}
			}
		}
		// Search: by NHS number, by demographics; minimal disclosure.
		ms, _, err := f.rec.Search(ctx, adm, record.ViaSearch, record.Query{NHSNumber: n})
		if err != nil || len(ms) != 1 || ms[0].PostcodeDistrict != "LE1" {
			t.Fatalf("search by NHS number: %+v %v", ms, err)
		}
		ms, _, err = f.rec.Search(ctx, cp, record.ViaSearch, record.Query{Family: "smyth", BirthDate: "1950-03-04", Given: "an", Postcode: "le1 5ab"})
		if err != nil || len(ms) != 1 {
			t.Fatalf("search by demographics: %+v %v", ms, err)
		}
		if _, _, err := f.rec.Search(ctx, cp, record.ViaSearch, record.Query{NHSNumber: "9434765918"}); code(err) != errs.Invalid {
			t.Errorf("bad check digit in search: %v", err)
		}
		if f.countEvents("record.search", "success") != 2 {
			t.Errorf("searches audited: %d", f.countEvents("record.search", "success"))
		}
		// Last use is batched: one flush marks both people.
		if err := f.rec.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
		if len(f.marks.ids) != 2 {
			t.Errorf("marked used: %v", f.marks.ids)
		}
	})
}

func TestGate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(2)
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p2", n, "Jones")); err != nil {
			t.Fatal(err)
		}
		f.org("SUSP1", "suspended")
		untrained := f.person("untrained@nhs.net", "RX9", record.RoleCareProfessional, "active")
		// An active account whose only membership the authoriser has
		// deactivated (the deactivation request not yet actioned).
		away := f.person("away@nhs.net", "RX9", record.RoleCareProfessional, "active")
		if _, err := db.Exec(ctx, `UPDATE memberships SET status = 'deactivated' WHERE user_id = ?`, away.UserID); err != nil {
			t.Fatal(err)
		}
		// An account a service desk asked for, with no membership at all,
		// is not held back.
		desk := f.person("desk.made@nhs.net", "RX9", record.RoleCareProfessional, "active")
		if _, err := db.Exec(ctx, `DELETE FROM memberships WHERE user_id = ?`, desk.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.rec.Record(ctx, desk, record.ViaSearch, n, ""); err != nil {
			t.Errorf("an account without memberships: %v", err)
		}
		f.gate.refuse[untrained.UserID] = "1 mandatory module is not complete: Data security"
		for name, pr := range map[string]struct {
			email, ods, role, status, want string
		}{
			"deactivated": {"off@nhs.net", "RX9", record.RoleCareProfessional, "deactivated", "deactivated"},
			"no account":  {"none@nhs.net", "RX9", "", "", "do not have a record account"},
			"pending":     {"pending@nhs.net", "RX9", record.RoleCareProfessional, "pending", "waiting"},
			"suspended":   {"susp@nhs.net", "SUSP1", record.RoleCareProfessional, "active", "suspended"},
		} {
			p := f.person(pr.email, pr.ods, pr.role, pr.status)
			for _, try := range []func() error{
				func() error { _, err := f.rec.Record(ctx, p, record.ViaSearch, n, ""); return err },
				func() error {
					_, _, err := f.rec.Search(ctx, p, record.ViaSearch, record.Query{NHSNumber: n})
					return err
				},
				func() error {
					_, err := f.rec.SearchResources(ctx, p, "Patient", record.SearchParams{Query: record.Query{NHSNumber: n}})
					return err
				},
			} {
				err := try()
				if code(err) != errs.Forbidden || !strings.Contains(errs.As(err).Message, pr.want) {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
		if _, err := f.rec.Record(ctx, untrained, record.ViaSearch, n, ""); code(err) != errs.Forbidden || !strings.Contains(err.Error(), "training") {
			t.Errorf("untrained: %v", err)
		}
		if _, err := f.rec.Record(ctx, away, record.ViaSearch, n, ""); code(err) != errs.Forbidden || !strings.Contains(err.Error(), "membership") {
			t.Errorf("deactivated membership: %v", err)
		}
		if got := f.countEvents("record.view", "refused"); got != 6 {
			t.Errorf("refused views audited: %d, want 6", got)
		}
		if _, err := f.rec.Record(ctx, nil, record.ViaSearch, n, ""); code(err) != errs.Unauthenticated {
			t.Errorf("anonymous: %v", err)
		}
	})
}

func TestAuditBeforeData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(3)
		out, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p3", n, "Brown"))
		if err != nil {
			t.Fatal(err)
		}
		cp := f.person("cp3@nhs.net", "RX9", record.RoleCareProfessional, "active")
		fa := &failingAudit{}
		broken := record.New(record.Deps{DB: db, Audit: fa, Clock: f.clk, Training: f.gate, Usage: f.marks,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, record.Config{})
		defer broken.Close()
		if v, err := broken.Record(ctx, cp, record.ViaSearch, n, ""); err == nil || v != nil || code(err) != errs.Internal {
			t.Errorf("view with a failing audit store: %v %v", v, err)
		}
		if ms, _, err := broken.Search(ctx, cp, record.ViaSearch, record.Query{NHSNumber: n}); err == nil || ms != nil {
			t.Errorf("search with a failing audit store: %v %v", ms, err)
		}
		if r, err := broken.Read(ctx, cp, "Patient", out[0].ID); err == nil || r != nil {
			t.Errorf("read with a failing audit store: %v %v", r, err)
		}
		if rs, err := broken.SearchResources(ctx, cp, "Condition", record.SearchParams{Patient: out[0].ID}); err == nil || rs != nil {
			t.Errorf("FHIR search with a failing audit store: %v %v", rs, err)
		}
		if fa.calls != 4 {
			t.Errorf("audit attempts: %d", fa.calls)
		}
		// Nor is anything published without its audit event.
		if _, err := broken.Ingest(ctx, f.pubs["RX9"], bundle("p4", nhs(4), "Grey")); err == nil {
			t.Error("ingest without audit succeeded")
		}
		if f.countResources() != 9 {
			t.Errorf("rows after failed ingest: %d", f.countResources())
		}
	})
}

func TestIngestRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		good := string(bundle("p5", nhs(5), "White"))
		big := bytes.Repeat([]byte(" "), record.DefaultMaxPayload+1)
		for name, c := range map[string]struct {
			body  string
			code  errs.Code
			where string
		}{
			"malformed JSON":   {`{"resourceType": "Patient", `, errs.Invalid, "$"},
			"bad check digit":  {strings.Replace(good, nhs(5), "9434765918", 1), errs.Invalid, "Bundle.entry[0].resource.identifier[0].value"},
			"unknown type":     {`{"resourceType":"Claim","id":"x"}`, errs.Invalid, "Claim.resourceType"},
			"dangling patient": {strings.Replace(good, `"reference":"Patient/p5"`, `"reference":"Patient/nobody"`, 1), errs.Invalid, "Bundle.entry[1].resource"},
			"other organisation": {strings.Replace(good, `"resourceType":"Condition"`, `"meta":{"source":"https://fhir.nhs.uk/Id/ods-organization-code|M85001"},"resourceType":"Condition"`, 1),
				errs.Forbidden, "Bundle.entry[3].resource.meta.source"},
			"oversized":         {string(big), errs.Invalid, "$"},
			"not a transaction": {`{"resourceType":"Bundle","type":"collection","entry":[]}`, errs.Invalid, "Bundle.type"},
		} {
			_, err := f.rec.Ingest(ctx, f.pubs["RX9"], []byte(c.body))
			if code(err) != c.code {
				t.Errorf("%s: %v, want %s", name, err, c.code)
				continue
			}
			if e := errs.As(err); len(e.Fields) == 0 || e.Fields[0].Field != c.where {
				t.Errorf("%s: fields %+v, want %s", name, e.Fields, c.where)
			}
		}
		if f.countResources() != 0 {
			t.Errorf("something was stored: %d rows", f.countResources())
		}
		if got := f.countEvents("record.ingest", "refused"); got != 7 {
			t.Errorf("refused ingests audited: %d", got)
		}
		// A clinical resource may refer to a Patient the organisation sent earlier.
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], []byte(good)); err != nil {
			t.Fatal(err)
		}
		single := `{"resourceType":"Condition","id":"later","subject":{"reference":"Patient/p5"},"code":{"text":"Asthma"}}`
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], []byte(single)); err != nil {
			t.Fatal(err)
		}
		// …but not to another organisation's.
		if _, err := f.rec.Ingest(ctx, f.pubs["M85001"], []byte(single)); code(err) != errs.Invalid {
			t.Errorf("reference to another organisation's patient: %v", err)
		}
	})
}

// A long list of one kind (repeat prescriptions) does not crowd the other
// kinds out of the summary.
func TestSummaryShowsEverySectionBesideALongOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(41)
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], bundle("p41", n, "Long")); err != nil {
			t.Fatal(err)
		}
		var es []any
		for i := range 505 {
			r := map[string]any{"resourceType": "MedicationStatement", "id": fmt.Sprintf("p41-rep%d", i), "status": "active",
				"subject": map[string]any{"reference": "Patient/p41"}, "medicationCodeableConcept": map[string]any{"text": "Repeat"},
				"effectiveDateTime": fmt.Sprintf("2026-%02d-%02d", 3+i%9, 1+i%28)}
			es = append(es, map[string]any{"resource": r, "request": map[string]any{"method": "PUT", "url": "MedicationStatement/" + r["id"].(string)}})
		}
		// And a long run of results, which the summary counts but does not list.
		for i := range 300 {
			r := map[string]any{"resourceType": "Observation", "id": fmt.Sprintf("p41-obs%d", i), "status": "final",
				"subject": map[string]any{"reference": "Patient/p41"}, "code": map[string]any{"text": "HbA1c"},
				"effectiveDateTime": fmt.Sprintf("2025-%02d-%02d", 1+i%12, 1+i%28)}
			es = append(es, map[string]any{"resource": r, "request": map[string]any{"method": "PUT", "url": "Observation/" + r["id"].(string)}})
		}
		b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": es})
		if _, err := f.rec.Ingest(ctx, f.pubs["RX9"], b); err != nil {
			t.Fatal(err)
		}
		cp := f.person("cp41@nhs.net", "RX9", record.RoleCareProfessional, "active")
		v, err := f.rec.Record(ctx, cp, record.ViaSearch, n, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Allergies) != 1 || len(v.Problems) != 1 || len(v.Medications) != 20 {
			t.Fatalf("summary: %d allergies, %d problems, %d medications", len(v.Allergies), len(v.Problems), len(v.Medications))
		}
		// Every section is counted: the bundle's one of each kind (two
		// medications: a statement and a request), and the long runs.
		want := map[record.Section]int{record.Appointments: 1, record.Encounters: 1, record.Problems: 1, record.Medications: 507,
			record.Allergies: 1, record.Results: 301, record.Documents: 1}
		for sec, n := range want {
			if v.Counts[sec] != n {
				t.Errorf("summary counts %d %s, want %d", v.Counts[sec], sec, n)
			}
		}
		// The section itself: the newest 500 of its 506 or more, with the
		// banner (read first, so the list can stop when full).
		sec, err := f.rec.Record(ctx, cp, record.ViaSearch, n, record.Medications)
		if err != nil {
			t.Fatal(err)
		}
		if v.Counts[record.Medications] <= 505 || len(sec.Items) != 500 || sec.Patient == nil || sec.Patient.NHSNumber != n {
			t.Fatalf("medications section: %d items of %d, banner %+v", len(sec.Items), v.Counts[record.Medications], sec.Patient)
		}
		for i := 1; i < len(sec.Items); i++ {
			if sec.Items[i].Date > sec.Items[i-1].Date {
				t.Fatalf("medications not newest first at %d: %s after %s", i, sec.Items[i].Date, sec.Items[i-1].Date)
			}
		}
	})
}

// A search or view with bad input is refused with a clear error and
// audited as refused, like every other refused access.
func TestBadQueriesAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		cp := f.person("cp51@nhs.net", "RX9", record.RoleCareProfessional, "active")
		if _, _, err := f.rec.Search(ctx, cp, record.ViaSearch, record.Query{NHSNumber: "9434765918"}); code(err) != errs.Invalid {
			t.Fatalf("bad NHS number search: %v", err)
		}
		if _, err := f.rec.Record(ctx, cp, record.ViaSearch, "123", ""); code(err) != errs.Invalid {
			t.Fatalf("bad NHS number view: %v", err)
		}
		if _, err := f.rec.SearchResources(ctx, cp, "Patient", record.SearchParams{}); code(err) != errs.Invalid {
			t.Fatalf("empty FHIR Patient search: %v", err)
		}
		if got := f.countEvents("record.search", "refused") + f.countEvents("record.view", "refused") + f.countEvents("fhir.search", "refused"); got != 3 {
			t.Fatalf("%d refused events, want 3", got)
		}
	})
}

func TestServedCarriesTheServersIDAndMeta(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 4, 5, 0, time.UTC)
	for name, body := range map[string]string{
		"no meta":        `{"resourceType":"Condition","id":"supplier-1","code":{"text":"Asthma <mild> & \"controlled\""}}`,
		"meta kept":      `{"resourceType":"Condition","id":"supplier-1","meta":{"profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Condition"],"versionId":"9","source":"x"},"code":{"text":"Asthma <mild> & \"controlled\""}}`,
		"meta not a map": `{"meta":"odd","resourceType":"Condition","code":{"text":"Asthma <mild> & \"controlled\""},"id":"supplier-1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := &record.Resource{ID: "srv-7", Type: "Condition", Body: []byte(body), Version: 3, UpdatedAt: at, ODS: "RWE"}
			b, err := r.Served()
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Body) != body {
				t.Fatal("serving changed the stored body")
			}
			var m struct {
				ResourceType, ID string
				Code             struct{ Text string }
				Meta             struct {
					VersionID, LastUpdated, Source string
					Profile                        []string
				}
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("served JSON does not parse: %v\n%s", err, b)
			}
			if m.ResourceType != "Condition" || m.ID != "srv-7" || m.Code.Text != `Asthma <mild> & "controlled"` {
				t.Errorf("served %s", b)
			}
			if m.Meta.VersionID != "3" || m.Meta.LastUpdated != "2026-11-03T10:04:05Z" ||
				m.Meta.Source != "https://fhir.nhs.uk/Id/ods-organization-code|RWE" {
				t.Errorf("meta %+v", m.Meta)
			}
			if (name == "meta kept") != (len(m.Meta.Profile) == 1) {
				t.Errorf("profile %v", m.Meta.Profile)
			}
		})
	}
	if _, err := (&record.Resource{Body: []byte(`[1]`)}).Served(); err == nil {
		t.Error("a stored body that is not an object was served")
	}
}

// Served writes the stored JSON once with the server's id and meta put in:
// whatever the stored body holds, what it serves decodes to the body with
// id replaced and meta's three fields set (other meta kept; a meta that is
// not an object replaced), and nothing else changed, nested ids included.
func TestServedMatchesTheBodyWithIDAndMetaSet(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 4, 5, 0, time.UTC)
	bodies := []string{
		`{}`,
		`{"resourceType":"Observation"}`,
		`{"id":"s1","resourceType":"Observation","subject":{"reference":"Patient/p1","id":"nested"}}`,
		`{"resourceType":"Observation","meta":{},"id":"s1"}`,
		`{"resourceType":"Observation","meta":{"tag":[{"code":"x"}],"lastUpdated":"2001-01-01T00:00:00Z"},"valueString":"a\"b\\c\u00e9\n"}`,
		`{"resourceType":"Observation","meta":[1,2],"note":[{"text":"<b>&</b>"}]}`,
		`{"resourceType":"Observation","meta":null}`,
		`{"resourceType":"Observation","meta":{"versionId":"9","source":"x","lastUpdated":"y","security":[]},"id":""}`,
		` { "resourceType" : "Observation" , "id" : "s1" , "valueQuantity" : { "value" : 1.50e2 } } `,
	}
	for _, ods := range []string{"RWE", `R"W\E`} {
		for _, body := range bodies {
			r := &record.Resource{ID: "srv-7", Type: "Observation", Body: []byte(body), Version: 12, UpdatedAt: at, ODS: ods}
			b, err := r.Served()
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: served JSON does not parse: %v\n%s", body, err, b)
			}
			if err := json.Unmarshal([]byte(body), &want); err != nil {
				t.Fatal(err)
			}
			want["id"] = "srv-7"
			meta, _ := want["meta"].(map[string]any)
			if meta == nil {
				meta = map[string]any{}
			}
			meta["versionId"], meta["lastUpdated"], meta["source"] = "12", "2026-11-03T10:04:05Z", "https://fhir.nhs.uk/Id/ods-organization-code|"+ods
			want["meta"] = meta
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (ODS %s):\n got %v\nwant %v", body, ods, got, want)
			}
		}
	}
}
