package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// seqs returns the sequence numbers of evs.
func seqs(evs []audit.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func TestSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, c := newLog(t, db)
		alice := audit.Who{UserID: "u-alice", Email: "alice@nhs.net"}
		bob := audit.Who{UserID: "u-bob", Email: "bob@nhs.net"}
		// One event an hour, from t0.
		script := []struct {
			who    audit.Who
			action string
			otype  string
			oid    string
		}{
			{alice, "auth.login", "user", "u-alice"},             // 1 @ t0
			{alice, "record.view", "patient", "p1"},              // 2 @ t0+1h
			{bob, "auth.login", "user", "u-bob"},                 // 3 @ t0+2h
			{bob, "record.view", "patient", "p1"},                // 4 @ t0+3h
			{alice, "auth.logout", "user", "u-alice"},            // 5 @ t0+4h
			{audit.System, "member.deactivate", "user", "u-bob"}, // 6 @ t0+5h
			{bob, "authz.check", "patient", "p2"},                // 7 @ t0+6h: "authz." is not "auth."
			{alice, "auth", "user", "u-alice"},                   // 8 @ t0+7h
		}
		for i, s := range script {
			if err := l.Append(ctx, audit.New(s.who, s.action, s.otype, s.oid, audit.Success, map[string]string{"i": strconv.Itoa(i + 1)})); err != nil {
				t.Fatal(err)
			}
			c.Advance(time.Hour)
		}
		cases := []struct {
			name string
			f    audit.Filter
			want []int64
		}{
			{"everything, newest first", audit.Filter{}, []int64{8, 7, 6, 5, 4, 3, 2, 1}},
			{"actor by e-mail", audit.Filter{Actor: "alice@nhs.net"}, []int64{8, 5, 2, 1}},
			{"actor e-mail in another case", audit.Filter{Actor: "Alice@NHS.net"}, []int64{8, 5, 2, 1}},
			{"actor by id", audit.Filter{Actor: "u-bob"}, []int64{7, 4, 3}},
			{"system actor", audit.Filter{Actor: audit.SystemActor}, []int64{6}},
			{"object", audit.Filter{ObjectType: "patient", ObjectID: "p1"}, []int64{4, 2}},
			{"object type", audit.Filter{ObjectType: "user"}, []int64{8, 6, 5, 3, 1}},
			{"object id", audit.Filter{ObjectID: "u-bob"}, []int64{6, 3}},
			{"action prefix", audit.Filter{Action: "auth."}, []int64{5, 3, 1}},
			{"exact action", audit.Filter{Action: "auth.login"}, []int64{3, 1}},
			{"exact action without dot", audit.Filter{Action: "auth"}, []int64{8}},
			{"action prefix and actor", audit.Filter{Action: "auth.", Actor: "bob@nhs.net"}, []int64{3}},
			{"from (inclusive)", audit.Filter{From: t0.Add(5 * time.Hour)}, []int64{8, 7, 6}},
			{"to (exclusive)", audit.Filter{To: t0.Add(2 * time.Hour)}, []int64{2, 1}},
			{"date range", audit.Filter{From: t0.Add(time.Hour), To: t0.Add(4 * time.Hour)}, []int64{4, 3, 2}},
			{"date range and object", audit.Filter{From: t0.Add(time.Hour), To: t0.Add(4 * time.Hour), ObjectID: "p1"}, []int64{4, 2}},
			{"cursor", audit.Filter{Before: 4}, []int64{3, 2, 1}},
			{"nothing matches", audit.Filter{Actor: "carol@nhs.net"}, nil},
		}
		for _, tc := range cases {
			evs, next, err := audit.Search(ctx, db, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := seqs(evs); !slices.Equal(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
			if next != "" {
				t.Errorf("%s: next cursor %q on the last page", tc.name, next)
			}
		}

		// The events come back as written.
		evs, _, err := audit.Search(ctx, db, audit.Filter{ObjectID: "p2"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("Search p2 = %v, %v", evs, err)
		}
		e := evs[0]
		if e.Actor != "bob@nhs.net" || e.ActorID != "u-bob" || e.Action != "authz.check" || e.ObjectType != "patient" ||
			!e.At.Equal(t0.Add(6*time.Hour)) || e.Detail["i"] != "7" || e.Outcome != audit.Success {
			t.Fatalf("event 7 = %+v", e)
		}

		// Paging with a cursor walks every event once, newest first.
		var all []int64
		f := audit.Filter{Limit: 3}
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatal("paging does not end")
			}
			evs, next, err := audit.Search(ctx, db, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) > 3 {
				t.Fatalf("page of %d events with limit 3", len(evs))
			}
			all = append(all, seqs(evs)...)
			if next == "" {
				break
			}
			f.Before, err = strconv.ParseInt(next, 10, 64)
			if err != nil {
				t.Fatalf("cursor %q: %v", next, err)
			}
		}
		if fmt.Sprint(all) != "[8 7 6 5 4 3 2 1]" {
			t.Fatalf("pages = %v", all)
		}

		// Paging combines with filters: alice's events two at a time.
		evs, next, err := audit.Search(ctx, db, audit.Filter{Actor: "alice@nhs.net", Limit: 2})
		if err != nil || fmt.Sprint(seqs(evs)) != "[8 5]" || next != "5" {
			t.Fatalf("first page = %v, %q, %v", seqs(evs), next, err)
		}
		evs, next, err = audit.Search(ctx, db, audit.Filter{Actor: "alice@nhs.net", Limit: 2, Before: 5})
		if err != nil || fmt.Sprint(seqs(evs)) != "[2 1]" || next != "" {
			t.Fatalf("second page = %v, %q, %v", seqs(evs), next, err)
		}
	})
}

func TestCSVRowNeutralisesFormulas(t *testing.T) {
	e := audit.Event{
		Seq: 12, At: t0, Actor: "=cmd|' /C calc'!A0", ActorID: "+41", Action: "-2+3", ObjectType: "@SUM(A1)",
		ObjectID: "\tTAB", Outcome: "\rCR", IP: "10.0.0.1", UserAgent: "Mozilla/5.0",
		Detail: map[string]string{"q": "=HYPERLINK()"}, Hash: "ab12",
	}
	row := audit.CSVRow(e)
	if len(row) != len(audit.CSVHeader) {
		t.Fatalf("row has %d cells, header %d", len(row), len(audit.CSVHeader))
	}
	want := []string{"12", "2026-03-02T09:00:00Z", "'=cmd|' /C calc'!A0", "'+41", "'-2+3", "'@SUM(A1)", "'\tTAB", "'\rCR",
		"10.0.0.1", "Mozilla/5.0", `{"q":"=HYPERLINK()"}`, "ab12"}
	if !slices.Equal(row, want) {
		t.Fatalf("CSVRow =\n%q\nwant\n%q", row, want)
	}
	if got := audit.CSVRow(audit.Event{Actor: "=cmd"})[2]; got != "'=cmd" {
		t.Fatalf("=cmd became %q, want '=cmd", got)
	}
}

// A search by object, person, action or dates reads the trail's indexes one
// segment at a time, newest first. Events of two patients, by two people
// (and by someone not signed in, and by CareGate), are placed on both sides
// of segment boundaries and far apart (segments 0, 1, 2 and 5, with 3 and 4
// empty); every page of every search is what filtering all the events
// gives, in order, and paging by cursor neither skips nor repeats one.
func TestSearchAcrossSegments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const seg = audit.SegmentSize
		type ev struct {
			seq                  int64
			at                   time.Time
			action, oid, who, id string
		}
		var all []ev
		base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		// The patients take turns, and so do the two people (every third
		// event is Bob's, but for three): each has events on both sides of
		// each boundary between segments 0, 1 and 2.
		for i, seq := range []int64{1, 2, seg - 2, seg - 1, seg, seg + 1, 2*seg - 1, 2 * seg, 2*seg + 7, 5*seg + 3, 5*seg + 4} {
			e := ev{seq: seq, at: base.Add(time.Duration(i) * time.Hour), action: "record.view", oid: []string{"p1", "p2"}[i%2],
				who: "alice@nhs.net", id: "u-alice"}
			if i%3 == 0 {
				e.action = "fhir.read"
			}
			if i%3 == 1 {
				e.who, e.id = "bob@nhs.net", "u-bob"
			}
			if i == 8 {
				// Moments are nearly, not exactly, in seq order: this one
				// is older than every other, in segment 2.
				e.at = base.Add(-time.Hour)
			}
			// Someone not signed in (no id) and CareGate itself (whose id
			// and name are one) act too.
			switch i {
			case 3, 10:
				e.who, e.id = "anonymous", ""
			case 5:
				e.who, e.id = "system", "system"
			}
			all = append(all, e)
		}
		for _, e := range all {
			if _, err := db.Exec(ctx, `INSERT INTO audit_events (seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, 'patient', ?, 'success', '', '', '{}', '', '')`, e.seq, e.at.UnixMicro(), e.id, e.who, e.action, e.oid); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []audit.Filter{
			{ObjectType: "patient", ObjectID: "p1"},
			{ObjectType: "patient", ObjectID: "p2", Action: "fhir.read"},
			{ObjectType: "patient", ObjectID: "p1", From: base.Add(2 * time.Hour), To: base.Add(9 * time.Hour)},
			{ObjectType: "patient", ObjectID: "p3"},
			{Actor: "Bob@NHS.net"},
			{Actor: "u-alice", ObjectType: "patient", ObjectID: "p2"},
			{Actor: "u-carol"},
			{Action: "fhir.read"},
			{Action: "record.", Actor: "alice@nhs.net"},
			{Actor: "Anonymous"},
			{Actor: "system"},
			{From: base.Add(2 * time.Hour), To: base.Add(9 * time.Hour)},
			{From: base.Add(5 * time.Hour)},
			{To: base},
			{To: base.Add(time.Hour)},
			{From: base.Add(30 * time.Hour)},
		} {
			var want []int64
			for _, e := range all {
				if (f.ObjectID == "" || e.oid == f.ObjectID) && (f.Actor == "" || strings.EqualFold(e.who, f.Actor) || e.id == f.Actor) &&
					(f.Action == "" || e.action == f.Action || strings.HasSuffix(f.Action, ".") && strings.HasPrefix(e.action, f.Action)) &&
					(f.From.IsZero() || !e.at.Before(f.From)) && (f.To.IsZero() || e.at.Before(f.To)) {
					want = append(want, e.seq)
				}
			}
			slices.Reverse(want)
			for _, limit := range []int{1, 2, 3, 100} {
				f := f
				f.Limit = limit
				var got []int64
				for page := 0; ; page++ {
					evs, next, err := audit.Search(ctx, db, f)
					if err != nil {
						t.Fatal(err)
					}
					if len(evs) > limit || (next != "" && len(evs) != limit) {
						t.Fatalf("%+v: page of %d, next %q", f, len(evs), next)
					}
					got = append(got, seqs(evs)...)
					if next == "" {
						break
					}
					if f.Before, err = strconv.ParseInt(next, 10, 64); err != nil || page > 30 {
						t.Fatalf("cursor %q after %d pages", next, page)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%+v:\n got %v\nwant %v", f, got, want)
				}
			}
		}
		if db.Dialect != store.SQLite {
			return
		}
		// Each kind of search reads its own index, a segment newest first
		// without a sort.
		for index, where := range map[string][]string{
			"audit_object":      {"object_type = ?", "object_id = ?"},
			"audit_actor":       {"actor_id = ?"},
			"audit_actor_email": {"actor = ?"},
			"audit_action":      {"action = ?"},
		} {
			args := []any{0}
			for range where {
				args = append(args, "x")
			}
			plan := queryPlan(t, db, audit.SegmentQuery(where...), append(args, 10)...)
			if !strings.Contains(plan, "INDEX "+index+" ") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%s: a segment is not read through %s in order:\n%s", where, index, plan)
			}
		}
		// A segment's first and last moments are read from the index by
		// time, not found by reading its events.
		if plan := queryPlan(t, db, audit.SegmentMoments, 0, 0); strings.Count(plan, "INDEX audit_at ") != 2 || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("a segment's moments are not read from the index by time:\n%s", plan)
		}
	})
}

// queryPlan is SQLite's plan for q, a line a step.
func queryPlan(t *testing.T, db *store.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(context.Background(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "\n"
	}
	return plan
}
