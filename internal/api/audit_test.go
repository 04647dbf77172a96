package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// lastEvent returns the newest audit event matching f.
func lastEvent(t *testing.T, db *store.DB, f audit.Filter) *audit.Event {
	t.Helper()
	f.Limit = 1
	evs, _, err := audit.Search(context.Background(), db, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatalf("no audit event matches %+v", f)
	}
	return &evs[0]
}

// TestAuditTrail checks that changes made through the API, and reads of the
// trail itself, are audited with the caller's identity, and that the chain
// stays intact.
func TestAuditTrail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{demo: true})
		ad, po := s.as[admin], s.as[privacyOfficer]

		r := s.do(t, "PATCH", "/api/v1/organisations/"+s.org1.ID, ad, tokenMode, `{"name":"Leeds Teaching Hospitals NHS Trust"}`)
		if r.status != 200 {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		ev := lastEvent(t, db, audit.Filter{Action: "organisation.update", ObjectID: s.org1.ID})
		if ev.ActorID != ad.user.ID || ev.Actor != "admin@nhs.net" || ev.IP != "127.0.0.1" || ev.Outcome != audit.Success {
			t.Errorf("organisation.update event: %+v", ev)
		}
		if got := ev.Detail["name"]; got != "Leeds Teaching Hospitals -> Leeds Teaching Hospitals NHS Trust" {
			t.Errorf("organisation.update detail name = %q", got)
		}

		r = s.do(t, "POST", "/api/v1/users", ad, sessionMode, `{"email":"audited@nhs.net","given_name":"Aud","family_name":"Ited","roles":["back_office"]}`)
		if r.status != 201 {
			t.Fatalf("create user: %d %s", r.status, r.body)
		}
		id, _ := jget(r.json, "user.id")
		if ev := lastEvent(t, db, audit.Filter{Action: "user.create", ObjectID: fmt.Sprint(id)}); ev.ActorID != ad.user.ID || ev.Detail["roles"] != "back_office" {
			t.Errorf("user.create event: %+v", ev)
		}
		if ev := lastEvent(t, db, audit.Filter{Action: "user.setup_link", ObjectID: fmt.Sprint(id)}); ev.ActorID != ad.user.ID {
			t.Errorf("user.setup_link event: %+v", ev)
		}

		// Reading the trail is audited, with the filters used.
		r = s.do(t, "GET", "/api/v1/audit-events?object_type=organisation&from=2020-01-01", po, tokenMode, "")
		if r.status != 200 {
			t.Fatalf("search: %d %s", r.status, r.body)
		}
		ev = lastEvent(t, db, audit.Filter{Action: "audit.search"})
		if ev.ActorID != po.user.ID || ev.Outcome != audit.Success || ev.Detail["object_type"] != "organisation" || ev.Detail["from"] != "2020-01-01" {
			t.Errorf("audit.search event: %+v", ev)
		}
		// A refused read is audited as refused, and returns nothing.
		r = s.do(t, "GET", "/api/v1/audit-events", s.as[backOffice], tokenMode, "")
		if r.status != 403 || r.json["items"] != nil {
			t.Errorf("back office search: %d %s", r.status, r.body)
		}
		ev = lastEvent(t, db, audit.Filter{Action: "audit.search"})
		if ev.ActorID != s.as[backOffice].user.ID || ev.Outcome != audit.Refused {
			t.Errorf("refused audit.search event: %+v", ev)
		}
		// So is an export.
		if r = s.do(t, "GET", "/api/v1/audit-events.csv?action=user.", ad, tokenMode, ""); r.status != 200 {
			t.Fatalf("export: %d %s", r.status, r.body)
		}
		ev = lastEvent(t, db, audit.Filter{Action: "audit.export"})
		if ev.ActorID != ad.user.ID || ev.Detail["action"] != "user." || ev.Detail["format"] != "csv" {
			t.Errorf("audit.export event: %+v", ev)
		}
		// And the demo clock.
		if r = s.do(t, "POST", "/api/v1/demo/clock", ad, tokenMode, `{"advance":"90m"}`); r.status != 200 {
			t.Fatalf("clock: %d %s", r.status, r.body)
		}
		if ev := lastEvent(t, db, audit.Filter{Action: "demo.clock.advance"}); ev.ActorID != ad.user.ID || ev.Detail["advance"] != "1h30m0s" {
			t.Errorf("demo.clock.advance event: %+v", ev)
		}

		if n, err := audit.Verify(context.Background(), db); err != nil || n == 0 {
			t.Errorf("audit.Verify: %d events, %v", n, err)
		}
	})
}

// TestAuditPaging pages through a search with the cursor and checks the
// export carries the same events.
func TestAuditPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		ad := s.as[admin]
		for i := range 7 {
			r := s.do(t, "POST", "/api/v1/organisations", ad, tokenMode, fmt.Sprintf(`{"ods_code":"P%d0","name":"Practice %d"}`, i, i))
			if r.status != 201 {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
		}
		// The fixture made two organisations: nine in all, three pages of three.
		today := s.clk.Now().Format(time.DateOnly)
		yesterday := s.clk.Now().AddDate(0, 0, -1).Format(time.DateOnly)
		var seqs []float64
		cursor, pages := "", 0
		for {
			path := "/api/v1/audit-events?action=organisation.create&limit=3&from=" + yesterday + "&to=" + today
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := s.do(t, "GET", path, s.as[privacyOfficer], tokenMode, "")
			if r.status != 200 {
				t.Fatalf("page %d: %d %s", pages, r.status, r.body)
			}
			pages++
			items, _ := r.json["items"].([]any)
			for _, it := range items {
				seqs = append(seqs, it.(map[string]any)["seq"].(float64))
			}
			next, _ := r.json["next_cursor"].(string)
			if next == "" || pages > 5 {
				break
			}
			cursor = next
		}
		if len(seqs) != 9 || !slices.IsSortedFunc(seqs, func(a, b float64) int { return int(b - a) }) {
			t.Errorf("paged seqs %v, want 9 distinct, newest first", seqs)
		}
		if pages != 3 && pages != 4 { // a full last page may leave a cursor to an empty one
			t.Errorf("%d pages", pages)
		}
		// A window ending before today finds nothing.
		r := s.do(t, "GET", "/api/v1/audit-events?action=organisation.create&to="+yesterday, ad, tokenMode, "")
		if items, _ := r.json["items"].([]any); r.status != 200 || len(items) != 0 {
			t.Errorf("to=%s: %d %s", yesterday, r.status, r.body)
		}

		r = s.do(t, "GET", "/api/v1/audit-events.csv?action=organisation.create", ad, tokenMode, "")
		if r.status != 200 {
			t.Fatalf("export: %d %s", r.status, r.body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 10 || !slices.Equal(rows[0], audit.CSVHeader) {
			t.Fatalf("export: %d rows, header %v", len(rows), rows[0])
		}
		if rows[1][0] != fmt.Sprint(seqs[0]) || rows[1][4] != "organisation.create" {
			t.Errorf("export first row %v, want seq %v", rows[1], seqs[0])
		}
		r = s.do(t, "GET", "/api/v1/audit-events.csv?action=organisation.create&limit=4", ad, tokenMode, "")
		if n := strings.Count(string(r.body), "\n"); n != 5 {
			t.Errorf("export with limit=4: %d lines", n)
		}
	})
}
