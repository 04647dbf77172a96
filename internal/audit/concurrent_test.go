package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestAppendConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _ := newLog(t, db)
		const writers, each = 32, 50

		// A verifier runs beside the writers: it must never report a break
		// in a trail that is only growing.
		stop := make(chan struct{})
		verified := make(chan error, 1)
		go func() {
			var last int64
			for {
				select {
				case <-stop:
					verified <- nil
					return
				default:
				}
				n, err := audit.Verify(ctx, db)
				if err != nil {
					verified <- fmt.Errorf("Verify during appends: %w", err)
					return
				}
				if n < last {
					verified <- fmt.Errorf("Verify saw %d events after %d", n, last)
					return
				}
				last = n
			}
		}()

		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					ev := audit.New(audit.Who{UserID: fmt.Sprintf("u%d", w), Email: fmt.Sprintf("u%d@nhs.net", w)},
						"record.view", "patient", fmt.Sprintf("p%d-%d", w, i), audit.Success, nil)
					if err := l.Append(ctx, ev); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		close(errs)
		for err := range errs {
			t.Fatalf("Append: %v", err)
		}
		if err := <-verified; err != nil {
			t.Fatal(err)
		}
		mustVerify(t, db, writers*each)
		// 32 writers at once share commits: the writer reports every event,
		// in fewer commits than events.
		if groups, events := l.Stats(); events != writers*each || groups < 1 || groups >= events {
			t.Errorf("Stats() = %d group commits carrying %d events, want %d events in fewer commits", groups, events, writers*each)
		}
		if n := countRows(t, db); n != writers*each {
			t.Fatalf("%d rows, want %d", n, writers*each)
		}
	})
}

// twoHandles names an engine and opens two independent handles on one fresh,
// migrated database of it, as two caregate processes sharing it would.
type twoHandles struct {
	name string
	open func(t *testing.T) (*store.DB, *store.DB)
}

// engines lists the engines of this run, like storetest.Engines.
func engines(t *testing.T) []twoHandles {
	es := []twoHandles{{name: "sqlite", open: func(t *testing.T) (*store.DB, *store.DB) {
		dir := t.TempDir()
		return openMigrated(t, store.Options{DataDir: dir}), openMigrated(t, store.Options{DataDir: dir})
	}}}
	if base := storetest.PostgresURL(t); base != "" {
		es = append(es, twoHandles{name: "postgres", open: func(t *testing.T) (*store.DB, *store.DB) {
			u := storetest.NewSchema(t, base)
			return openMigrated(t, store.Options{URL: u}), openMigrated(t, store.Options{URL: u})
		}})
	}
	return es
}

func openMigrated(t *testing.T, o store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestTwoProcessesShareOneChain(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db1, db2 := e.open(t)
			logs := []*audit.Log{audit.NewLog(db1, clock.NewManual(t0)), audit.NewLog(db2, clock.NewManual(t0))}
			dbs := []*store.DB{db1, db2}
			const writers, each = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, 2*writers*each)
			for p, l := range logs {
				for w := range writers {
					wg.Go(func() {
						for i := range each {
							ev := audit.New(admin, "record.view", "patient", fmt.Sprintf("p%d-w%d-%d", p, w, i), audit.Success, nil)
							var err error
							if i%5 == 0 {
								// Some events ride in callers' transactions.
								err = dbs[p].InTx(ctx, func(tx *store.Tx) error { return l.Record(ctx, tx, ev) })
							} else {
								err = l.Append(ctx, ev)
							}
							if err != nil {
								errs <- err
							}
						}
					})
				}
			}
			wg.Wait()
			for _, l := range logs {
				l.Close()
			}
			close(errs)
			for err := range errs {
				t.Fatalf("append: %v", err)
			}
			mustVerify(t, db1, 2*writers*each)
			mustVerify(t, db2, 2*writers*each)
		})
	}
}
