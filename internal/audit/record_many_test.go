package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// A transaction that records more events than one statement carries on
// PostgreSQL (5,000) writes them all, in the order recorded, between events
// appended before and after, and the trail verifies; text that an array
// parameter could mangle (quotes, braces, commas, backslashes, the word
// NULL, empty strings, a NUL byte) is stored as recorded.
func TestRecordManyInOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _ := newLog(t, db)
		appendN(t, l, 2)
		const n = 12_001
		odd := []string{`"quoted"`, `{a,b}`, `back\slash`, `NULL`, ``, "nul\x00byte", `O'Brien, Mary`, "naïve ✓"}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := range n {
				s := odd[i%len(odd)]
				who := audit.Who{UserID: s, Email: s, IP: s, UserAgent: s}
				if i%3 == 0 {
					who = audit.System
				}
				ev := audit.New(who, "record_account.deactivated", "user", fmt.Sprintf("u%05d", i), audit.Success,
					map[string]string{"rule": "inactivity_90_days", "odd": s, "i": fmt.Sprint(i)})
				if err := l.Record(ctx, tx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 1)
		mustVerify(t, db, n+3)

		var first, last, distinct int
		if err := db.QueryRow(ctx, `SELECT MIN(seq), MAX(seq), COUNT(DISTINCT object_id) FROM audit_events WHERE object_type = 'user'`).
			Scan(&first, &last, &distinct); err != nil {
			t.Fatal(err)
		}
		if first != 3 || last != n+2 || distinct != n {
			t.Fatalf("recorded events at seq %d to %d, %d objects; want 3 to %d, %d", first, last, distinct, n+2, n)
		}
		for _, i := range []int{0, 1, 3, 4, 5, 6, 4999, 5000, 5001, n - 1} {
			evs, _, err := audit.Search(ctx, db, audit.Filter{ObjectType: "user", ObjectID: fmt.Sprintf("u%05d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("event %d: %d found", i, len(evs))
			}
			e := evs[0]
			want := odd[i%len(odd)]
			if want == "nul\x00byte" {
				want = "nul\ufffdbyte" // as Record cleans it
			}
			if e.Seq != int64(i+3) || e.Detail["odd"] != want || e.Detail["i"] != fmt.Sprint(i) {
				t.Fatalf("event %d: seq %d, detail %q; want seq %d, odd %q", i, e.Seq, e.Detail, i+3, want)
			}
			if i%3 != 0 && (e.ActorID != want || e.IP != want || e.UserAgent != want) {
				t.Fatalf("event %d: actor %q, ip %q, user agent %q; want %q", i, e.ActorID, e.IP, e.UserAgent, want)
			}
		}
	})
}
