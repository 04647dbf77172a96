package notify_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/jobs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/notify/notifytest"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// stopwatch wraps the SMTP mailer and notes when the server accepted each
// message.
type stopwatch struct {
	inner    notify.Mailer
	mu       sync.Mutex
	accepted map[string]time.Time
}

func (s *stopwatch) Send(ctx context.Context, e notify.Envelope) error {
	err := s.inner.Send(ctx, e)
	if err == nil {
		s.mu.Lock()
		s.accepted[e.ID] = time.Now()
		s.mu.Unlock()
	}
	return err
}

// BenchmarkDeliveryLatency measures, on each engine, the time from the
// commit of the transaction that queues a message to the SMTP server's
// acceptance of it, with production settings (River's default polling, the
// LISTEN/NOTIFY or notification-table wake-up) and Mailpit up. Messages are
// committed one per transaction every 10 ms (100 a second); b.N is the
// number of messages. It reports the 50th and 99th percentiles and the
// maximum in milliseconds. The target is p99 ≤ 2 s.
//
//	CAREGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test \
//	  go test ./internal/notify -run '^$' -bench DeliveryLatency -benchtime 500x
func BenchmarkDeliveryLatency(b *testing.B) {
	engines := []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}}
	if storetest.PostgresURL(b) != "" {
		engines = append(engines, struct {
			name string
			open func(testing.TB) *store.DB
		}{"postgres", storetest.OpenPostgres})
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			db := e.open(b)
			if _, err := jobs.Migrate(ctx, db); err != nil {
				b.Fatal(err)
			}
			mp := notifytest.Start(b, notifytest.Options{})
			cfg, err := notify.ParseSMTPURL(mp.SMTPURL())
			if err != nil {
				b.Fatal(err)
			}
			smtp, err := notify.NewSMTP(cfg)
			if err != nil {
				b.Fatal(err)
			}
			sw := &stopwatch{inner: smtp, accepted: map[string]time.Time{}}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			runner, err := jobs.New(db, quiet, clock.System{})
			if err != nil {
				b.Fatal(err)
			}
			outbox, err := notify.NewOutboxWith(notify.Options{Mailer: sw, DB: db, Jobs: runner, Log: quiet})
			if err != nil {
				b.Fatal(err)
			}
			if err := runner.Start(ctx); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { runner.Stop(context.Background()) })
			// Let leader election and the start-up sweep settle first.
			time.Sleep(500 * time.Millisecond)

			committed := make(map[string]time.Time, b.N)
			b.ResetTimer()
			tick := time.NewTicker(10 * time.Millisecond)
			for range b.N {
				<-tick.C
				var id string
				if err := db.InTx(ctx, func(tx *store.Tx) error {
					var err error
					id, err = outbox.Enqueue(ctx, tx, completed("bench@nhs.net"))
					return err
				}); err != nil {
					b.Fatal(err)
				}
				committed[id] = time.Now()
			}
			tick.Stop()
			deadline := time.Now().Add(60 * time.Second)
			for {
				sw.mu.Lock()
				n := len(sw.accepted)
				sw.mu.Unlock()
				if n >= b.N {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d messages accepted after 60 s", n, b.N)
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			lat := make([]time.Duration, 0, b.N)
			sw.mu.Lock()
			for id, at := range committed {
				lat = append(lat, sw.accepted[id].Sub(at))
			}
			sw.mu.Unlock()
			slices.Sort(lat)
			pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(pct(0.50)), "p50-ms")
			b.ReportMetric(ms(pct(0.99)), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			b.Logf("%s: %d messages, commit to SMTP acceptance p50 %s, p99 %s, max %s", e.name, len(lat),
				pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
			if pct(0.99) > 2*time.Second {
				b.Errorf("p99 %s is over the 2 s target", pct(0.99))
			}
		})
	}
}

// BenchmarkEnqueue measures the cost of queueing one message inside a bulk
// transaction (500 a transaction), keeping it (no SMTP) or with its
// delivery job (SMTP configured; the runner is not started), one Enqueue
// at a time or all 500 with one EnqueueMany ("deliver-many").
//
//	go test ./internal/notify -run '^$' -bench Enqueue
func BenchmarkEnqueue(b *testing.B) {
	engines := map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite}
	if storetest.PostgresURL(b) != "" {
		engines["postgres"] = storetest.OpenPostgres
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open, ok := engines[name]
		if !ok {
			continue
		}
		for _, mode := range []string{"keep", "deliver", "deliver-many"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				ctx := context.Background()
				db := open(b)
				outbox := notify.NewOutbox(nil)
				if mode != "keep" {
					outbox = newRig(b, db, "smtp://127.0.0.1:1?tls=none", notify.Retry{}).outbox
				}
				b.ResetTimer()
				for done := 0; done < b.N; {
					if err := db.InTx(ctx, func(tx *store.Tx) error {
						if mode == "deliver-many" {
							n := min(500, b.N-done)
							ms := make([]notify.Message, n)
							for i := range ms {
								ms[i] = completed("bench@nhs.net")
							}
							done += n
							_, err := outbox.EnqueueMany(ctx, tx, ms)
							return err
						}
						for i := 0; i < 500 && done < b.N; i++ {
							if _, err := outbox.Enqueue(ctx, tx, completed("bench@nhs.net")); err != nil {
								return err
							}
							done++
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
