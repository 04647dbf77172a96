package lifecycle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// Two sweeps at once, by two services with their own connections to one
// database (two caregate processes), change each due row once and send
// each e-mail once, and the audit chain stays whole.
func TestTwoSweepsAtOnce(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		open := func() *store.DB {
			db, err := store.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		db1 := open()
		if _, err := db1.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		db2 := open()
		c := clock.NewManual(t0)
		cfg := lifecycle.Config{BatchSize: 25}
		w := newWorldAt(t, db1, c, cfg)
		w2 := newWorldAt(t, db2, c, cfg)

		org := w.organisation("RY4")
		ward := w.site(org, "Ward 7")
		w.authoriser(ward, w.user("sam@nhs.net", "Sam", "Lead"))
		const n = 120
		for i := range n {
			u := w.user(fmt.Sprintf("idle%03d@nhs.net", i), "Idle", fmt.Sprint(i))
			w.member(ward, u, "active", "")
			w.account(u, org, "active", "")
			f := w.user(fmt.Sprintf("temp%03d@nhs.net", i), "Temp", fmt.Sprint(i))
			w.member(ward, f, "active", "2027-01-25")
			w.account(f, org, "pending", "2027-01-25")
			w.invitation(ward, org, fmt.Sprintf("inv%03d@nhs.net", i))
		}
		// First both remind and warn at once, then both end at once.
		for _, at := range []int{76, 90} {
			w.at(t0.Add(day * 76)) // no-op after the first round
			if at == 90 {
				w.at(t0.Add(day * 90))
			}
			var wg sync.WaitGroup
			res := make([]lifecycle.Result, 2)
			errs := make([]error, 2)
			for i, svc := range []*lifecycle.Service{w.svc, w2.svc} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i], errs[i] = svc.Sweep(ctx)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			sum := lifecycle.Result{}
			for _, r := range res {
				sum.Add(r)
			}
			sum.Emails = 0
			want := lifecycle.Result{InvitationsExpired: n, InactivityWarned: n, FinishingReminded: n}
			if at == 90 {
				want = lifecycle.Result{InactiveDeactivated: n, FinishedAccounts: n, FinishedMemberships: n}
			}
			if sum != want {
				t.Fatalf("day %d: together %+v (%+v and %+v), want %+v", at, sum, res[0], res[1], want)
			}
			w.sweep(lifecycle.Result{})
		}
		for q, want := range map[string]int{
			`SELECT COUNT(*) FROM outbox WHERE kind = 'inactivity_warning'`:                             n,
			`SELECT COUNT(*) FROM outbox WHERE kind = 'access_ended'`:                                   2 * n,
			`SELECT COUNT(DISTINCT to_addr) FROM outbox WHERE kind = 'access_ended'`:                    2 * n,
			`SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.expire'`:                      n,
			`SELECT COUNT(*) FROM audit_events WHERE action = 'record_account.inactivity_warning'`:      n,
			`SELECT COUNT(*) FROM audit_events WHERE action = 'record_account.finishing_reminder'`:      n,
			`SELECT COUNT(*) FROM audit_events WHERE action = 'record_account.deactivated'`:             2 * n,
			`SELECT COUNT(DISTINCT object_id) FROM audit_events WHERE action = 'membership.deactivate'`: n,
		} {
			if got := w.count(q); got != want {
				t.Errorf("%s: %d, want %d", q, got, want)
			}
		}
		w.verifyAudit()
	})
}
