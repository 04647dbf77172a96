package record_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// inBundle wraps single resources (as JSON text) in a transaction Bundle of
// PUT entries.
func inBundle(t *testing.T, resources ...string) []byte {
	t.Helper()
	var es []any
	for _, r := range resources {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(r))
		d.UseNumber() // 48.0 stays 48.0: FHIR decimals keep their precision
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		es = append(es, map[string]any{"resource": m, "request": map[string]any{"method": "PUT", "url": m["resourceType"].(string) + "/" + m["id"].(string)}})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": es})
	return b
}

// A resource sent alone and then in a Bundle (or the other way round) is
// one row: the same server id, version and provenance, changed only when
// its content changes. A body that is not what its address names, or a
// resource of another organisation, is refused and audited either way.
func TestSingleResourceAndBundleAreOnePath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		pub := f.pubs["RX9"]
		if _, err := f.rec.Ingest(ctx, pub, patients(t, "s", "Lowe", []string{nhs(81)})); err != nil {
			t.Fatal(err)
		}
		// As a partner's system might write it: spaced, keys in its own order.
		alone := `{
			"resourceType": "Observation", "id": "s0-o1", "status": "final",
			"subject": {"reference": "Patient/s0"}, "code": {"text": "HbA1c"},
			"valueQuantity": {"value": 48.0, "unit": "mmol/mol"}, "effectiveDateTime": "2026-09-01"
		}`
		changed := `{"resourceType":"Observation","id":"s0-o1","status":"amended","subject":{"reference":"Patient/s0"},"code":{"text":"HbA1c"},` +
			`"valueQuantity":{"value":48.0,"unit":"mmol/mol"},"effectiveDateTime":"2026-09-01"}`
		type row struct {
			id, suppliedBy, body string
			version              int
			received, updated    int64
		}
		stored := func() row {
			t.Helper()
			var r row
			if err := db.QueryRow(ctx, `SELECT id, supplied_by, body, version, received_at, updated_at FROM record_resources
				WHERE resource_type = 'Observation'`).Scan(&r.id, &r.suppliedBy, &r.body, &r.version, &r.received, &r.updated); err != nil {
				t.Fatal(err)
			}
			return r
		}
		steps := []struct {
			name    string
			to      record.Target
			body    []byte
			outcome string
			version int
		}{
			{"alone, at its address", record.Target{Type: "Observation", ID: "s0-o1"}, []byte(alone), "created", 1},
			{"the same in a Bundle", record.Target{}, inBundle(t, alone), "unchanged", 1},
			{"the same to its type", record.Target{Type: "Observation"}, []byte(alone), "unchanged", 1},
			{"changed, in a Bundle", record.Target{}, inBundle(t, changed), "updated", 2},
			{"the change again, alone", record.Target{Type: "Observation", ID: "s0-o1"}, []byte(changed), "unchanged", 2},
			{"the first again, alone", record.Target{}, []byte(alone), "updated", 3},
		}
		var first, prev row
		for i, st := range steps {
			f.clk.Advance(time.Minute)
			out, err := f.rec.IngestAt(ctx, pub, st.to, st.body)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			got := out[len(out)-1]
			r := stored()
			if i == 0 {
				first = r
			}
			if got.Outcome != st.outcome || got.Version != st.version || r.version != st.version || got.ID != first.id || r.id != first.id {
				t.Errorf("%s: %+v, stored version %d, want %s version %d", st.name, got, r.version, st.outcome, st.version)
			}
			wantUpdated := f.clk.Now().UnixMicro()
			if st.outcome == "unchanged" {
				wantUpdated = prev.updated
			}
			if r.suppliedBy != pub.ClientID || r.received != first.received || r.updated != wantUpdated {
				t.Errorf("%s: provenance %+v, want updated at %d", st.name, r, wantUpdated)
			}
			prev = r
		}
		if n := f.countResources(); n != 2 {
			t.Errorf("%d rows, want the Patient and one Observation", n)
		}

		refusals := []struct {
			name  string
			pub   *record.Publisher
			to    record.Target
			body  []byte
			code  errs.Code
			where string
		}{
			{"another id than the address", pub, record.Target{Type: "Observation", ID: "other"}, []byte(alone), errs.Invalid, "Observation.id"},
			{"another type than the address", pub, record.Target{Type: "Condition"}, []byte(alone), errs.Invalid, "Condition.resourceType"},
			{"a Bundle to a type", pub, record.Target{Type: "Observation"}, inBundle(t, alone), errs.Invalid, "Observation.resourceType"},
			{"an entry sent to another id", pub, record.Target{},
				[]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + alone + `,"request":{"method":"PUT","url":"Observation/x"}}]}`),
				errs.Invalid, "Bundle.entry[0].resource.id"},
			{"an entry sent to another type", pub, record.Target{},
				[]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + alone + `,"request":{"method":"POST","url":"Condition"}}]}`),
				errs.Invalid, "Bundle.entry[0].request.url"},
			{"another organisation's, alone", pub, record.Target{Type: "Observation", ID: "s0-o1"},
				[]byte(`{"resourceType":"Observation","id":"s0-o1","meta":{"source":"M85001"},"subject":{"reference":"Patient/s0"}}`),
				errs.Forbidden, "Observation.meta.source"},
			{"another organisation's, in a Bundle", pub, record.Target{},
				inBundle(t, `{"resourceType":"Observation","id":"s0-o1","meta":{"source":"M85001"},"subject":{"reference":"Patient/s0"}}`),
				errs.Forbidden, "Bundle.entry[0].resource.meta.source"},
		}
		before := stored()
		for _, c := range refusals {
			_, err := f.rec.IngestAt(ctx, c.pub, c.to, c.body)
			if code(err) != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
				continue
			}
			if e := errs.As(err); len(e.Fields) == 0 || e.Fields[0].Field != c.where {
				t.Errorf("%s: fields %+v, want %s", c.name, e.Fields, c.where)
			}
		}
		if got := f.countEvents("record.ingest", "refused"); got != len(refusals) {
			t.Errorf("%d refused ingests audited, want %d", got, len(refusals))
		}
		if after := stored(); after != before {
			t.Errorf("a refusal changed the stored resource: %+v", after)
		}
	})
}
