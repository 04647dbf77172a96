package access_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/store/storetest"
)

// BenchmarkBulk raises and completes 10,000 new-user requests in bulk on each
// engine, and beside it 500 requests raised and completed one per
// transaction, the way a one-at-a-time tool would. Run with:
//
//	CAREGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test \\
//	  go test ./internal/access -run XXX -bench Bulk -benchtime 1x
//
// The target: ≤ 10 s for the 10,000 on each engine, ≤ 300 MB peak
// memory (measure with /usr/bin/time -v on the test binary).
func BenchmarkBulk(b *testing.B) {
	bulk, single := 10_000, 500
	if n, err := strconv.Atoi(os.Getenv("CAREGATE_BENCH_REQUESTS")); err == nil && n > 0 {
		bulk, single = n, n/20 // smaller runs, for profiling
	}
	for _, e := range storetest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			for b.Loop() {
				w := newWorld(b, e.Open(b))
				ins := make([]access.Input, bulk)
				for i := range ins {
					ins[i] = newUser(w.surgery, fmt.Sprintf("doctor%05d@nhs.net", i))
					ins[i].GivenName, ins[i].FamilyName = "Doctor", fmt.Sprintf("Intake%05d", i)
				}
				start := time.Now()
				res, err := w.svc.RaiseMany(w.ctx, w.authoriser, ins)
				if err != nil {
					b.Fatal(err)
				}
				raised := time.Since(start)
				ids := make([]string, 0, bulk)
				for i, r := range res {
					if r.Error != nil {
						b.Fatalf("item %d: %v", i, r.Error)
					}
					ids = append(ids, r.Request.ID)
				}
				start = time.Now()
				done, err := w.svc.CompleteMany(w.ctx, w.backOffice, ids, "New doctors' intake")
				if err != nil || done.Completed != bulk {
					b.Fatalf("completed %d: %v %v", done.Completed, err, done.Failed)
				}
				completed := time.Since(start)

				start = time.Now()
				for i := range single {
					in := newUser(w.surgery, fmt.Sprintf("single%05d@nhs.net", i))
					r, err := w.svc.Raise(w.ctx, w.authoriser, in)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := w.svc.Complete(w.ctx, w.backOffice, r.ID, ""); err != nil {
						b.Fatal(err)
					}
				}
				one := time.Since(start)
				bulkRate := float64(bulk) / (raised + completed).Seconds()
				oneRate := float64(single) / one.Seconds()
				b.ReportMetric(raised.Seconds(), "s-raise-10k")
				b.ReportMetric(completed.Seconds(), "s-complete-10k")
				b.ReportMetric(bulkRate, "bulk-req/s")
				b.ReportMetric(oneRate, "single-req/s")
				b.ReportMetric(bulkRate/oneRate, "bulk/single")
			}
		})
	}
}
