package record_test

import (
	"context"
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

// A search of clinical resources comes a page at a time, newest first, with
// the total of all pages; following the cursors gives every resource once.
func TestSearchPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		n := nhs(93)
		// Seven problems: dates that repeat (ordered by id then) and one
		// without a date (last).
		dates := []string{"2024-05-01", "2025-01-09", "2025-01-09", "2023-12-31", "2025-01-09", "", "2026-02-14"}
		var entries []string
		for i, d := range dates {
			onset := ""
			if d != "" {
				onset = `,"onsetDateTime":"` + d + `"`
			}
			entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Condition","id":"p93-c%d","subject":{"reference":"Patient/p93"},"code":{"text":"Problem %d"}%s}}`, i, i, onset))
		}
		b := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"p93",
			"identifier":[{"system":"` + record.NHSNumberSystem + `","value":"` + n + `"}],"name":[{"family":"Page"}]}},` + strings.Join(entries, ",") + `]}`
		stored, err := f.rec.Ingest(ctx, f.pubs["RX9"], []byte(b))
		if err != nil {
			t.Fatal(err)
		}
		cp := f.person("cp93@nhs.net", "RX9", record.RoleCareProfessional, "active")
		var got, ids []string
		var sizes []int
		sp := record.SearchParams{Patient: "Patient/" + stored[0].ID, Count: 3}
		for range 5 {
			set, err := f.rec.SearchResources(ctx, cp, "Condition", sp)
			if err != nil {
				t.Fatal(err)
			}
			if set.Total != 7 {
				t.Fatalf("total %d, want 7 on every page", set.Total)
			}
			sizes = append(sizes, len(set.Resources))
			for _, r := range set.Resources {
				body, _ := r.Served()
				got = append(got, string(body[strings.Index(string(body), "Problem "):][:9]))
				ids = append(ids, r.ID)
			}
			if set.Next == "" {
				break
			}
			sp.Cursor = set.Next
		}
		// Newest first; the three of 2025-01-09 in the order of their ids;
		// the one without a date last.
		if len(got) == 7 {
			same := []string{got[1], got[2], got[3]}
			slices.Sort(same)
			got[1], got[2], got[3] = same[0], same[1], same[2]
		}
		want := []string{"Problem 6", "Problem 1", "Problem 2", "Problem 4", "Problem 0", "Problem 3", "Problem 5"}
		if fmt.Sprint(sizes) != "[3 3 1]" || strings.Join(got, ",") != strings.Join(want, ",") || len(ids) != 7 || !slices.IsSorted(ids[1:4]) {
			t.Fatalf("pages %v: %v (ids %v), want %v", sizes, got, ids, want)
		}
		// The default page holds them all; a page that ends exactly at the
		// last resource has no next.
		if set, err := f.rec.SearchResources(ctx, cp, "Condition", record.SearchParams{Patient: stored[0].ID}); err != nil || len(set.Resources) != 7 || set.Next != "" {
			t.Fatalf("default page: %+v %v", set, err)
		}
		if set, err := f.rec.SearchResources(ctx, cp, "Condition", record.SearchParams{Patient: stored[0].ID, Count: 7}); err != nil || set.Next != "" {
			t.Fatalf("a page of exactly seven: next %q, %v", set.Next, err)
		}
		// Bad page sizes and cursors are refused, and audited as refused.
		before := f.countEvents("fhir.search", audit.Refused)
		for name, sp := range map[string]record.SearchParams{
			"count 0 is the default, -1 is not": {Patient: stored[0].ID, Count: -1},
			"too big a page":                    {Patient: stored[0].ID, Count: record.MaxPage + 1},
			"a made-up cursor":                  {Patient: stored[0].ID, Cursor: "not-a-cursor!"},
			"a cursor without an id":            {Patient: stored[0].ID, Cursor: "MjAyNS0wMS0wOQ"},
			"no patient":                        {Count: 3},
		} {
			set, err := f.rec.SearchResources(ctx, cp, "Condition", sp)
			if errs.CodeOf(err) != errs.Invalid || set != nil {
				t.Errorf("%s: %v, %v; want Invalid", name, set, err)
			}
		}
		if n := f.countEvents("fhir.search", audit.Refused) - before; n != 5 {
			t.Errorf("%d refused searches audited, want 5", n)
		}
		// A patient the record does not hold is refused, and audited, too;
		// one the record holds with none of the type is an empty page.
		before = f.countEvents("fhir.search", audit.Refused)
		if set, err := f.rec.SearchResources(ctx, cp, "Condition", record.SearchParams{Patient: "Patient/nobody"}); errs.CodeOf(err) != errs.Invalid || set != nil {
			t.Errorf("an unknown patient: %v, %v; want Invalid", set, err)
		}
		if n := f.countEvents("fhir.search", audit.Refused) - before; n != 1 {
			t.Errorf("%d refused searches audited for an unknown patient, want 1", n)
		}
		if set, err := f.rec.SearchResources(ctx, cp, "AllergyIntolerance", record.SearchParams{Patient: stored[0].ID}); err != nil ||
			set.Total != 0 || len(set.Resources) != 0 || set.Next != "" {
			t.Errorf("a type the patient has none of: %+v, %v", set, err)
		}
	})
}
