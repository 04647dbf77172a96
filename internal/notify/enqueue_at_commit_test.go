package notify_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/notify/notifytest"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// EnqueueManyAtCommit refuses a bad batch at once; otherwise it writes the
// rendered messages and their delivery jobs when the transaction commits,
// after the before-commit work registered earlier, and nothing when the
// transaction, or the savepoint it was called in, is rolled back.
func TestEnqueueManyAtCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRig(t, db, "smtp://"+notifytest.FreeAddr(t)+"?tls=none", testRetry)
		batch := func(prefix string, n int) []notify.Message {
			ms := make([]notify.Message, n)
			for i := range ms {
				ms[i] = completed(fmt.Sprintf("%s%03d@nhs.net", prefix, i))
			}
			return ms
		}
		messages := func() int { return countRows(t, db, `SELECT COUNT(*) FROM outbox`) }

		bad := append(batch("bad", 70), notify.Message{To: "x@nhs.net", Kind: "nonsense"})
		if err := db.InTx(ctx, func(tx *store.Tx) error { return r.outbox.EnqueueManyAtCommit(ctx, tx, bad) }); err == nil {
			t.Fatal("a batch with an unknown kind was accepted")
		}

		refused := errors.New("the change is refused")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := r.outbox.EnqueueManyAtCommit(ctx, tx, batch("gone", 70)); err != nil {
				return err
			}
			return refused
		})
		if !errors.Is(err, refused) || messages() != 0 {
			t.Fatalf("after a rollback: InTx = %v, %d messages", err, messages())
		}

		earlier := -1
		err = db.InTx(ctx, func(tx *store.Tx) error {
			tx.BeforeCommit(func() error {
				var n int
				err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
				earlier = n
				return err
			})
			if err := r.outbox.EnqueueManyAtCommit(ctx, tx, batch("bulk", 120)); err != nil {
				return err
			}
			if n := countRowsTx(t, tx, `SELECT COUNT(*) FROM outbox`); n != 0 {
				t.Errorf("%d messages written before the commit", n)
			}
			err := tx.Savepoint(ctx, func() error {
				if err := r.outbox.EnqueueManyAtCommit(ctx, tx, batch("undone", 80)); err != nil {
					return err
				}
				return refused
			})
			if !errors.Is(err, refused) {
				return fmt.Errorf("savepoint: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if earlier != 0 {
			t.Errorf("the hook registered earlier saw %d messages, want it to run first", earlier)
		}
		if n := messages(); n != 120 {
			t.Errorf("%d messages after a batch of 120 (and 80 undone), want 120", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'email_delivery'`); n != 120 {
			t.Errorf("%d delivery jobs, want 120", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox WHERE to_addr = ? AND subject <> '' AND html_body LIKE '%<html%'`, "bulk077@nhs.net"); n != 1 {
			t.Errorf("bulk077: %d rendered messages, want 1", n)
		}
	})
}

func countRowsTx(t testing.TB, tx *store.Tx, q string) int {
	t.Helper()
	var n int
	if err := tx.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch larger than one insert carries (500 rows on PostgreSQL, 50 on
// SQLite) is written whole, each row as rendered.
func TestEnqueueManyInSeveralInserts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		o := notify.NewOutbox(clock.NewManual(t0))
		ms := make([]notify.Message, 2101)
		for i := range ms {
			ms[i] = completed(fmt.Sprintf("many%04d@nhs.net", i))
		}
		ms[2050] = notify.Message{To: "pw@nhs.net", Kind: notify.KindCredentialsPassword, Data: map[string]string{"Name": "Pat", "Password": "Pw-7781"}}
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := o.EnqueueMany(ctx, tx, ms); return err }); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox`); n != len(ms) {
			t.Fatalf("%d messages, want %d", n, len(ms))
		}
		for to, sensitive := range map[string]int{"many0000@nhs.net": 0, "many1999@nhs.net": 0, "many2000@nhs.net": 0, "many2100@nhs.net": 0, "pw@nhs.net": 1} {
			if n := countRows(t, db, `SELECT COUNT(*) FROM outbox WHERE to_addr = ? AND sensitive = ? AND subject <> '' AND text_body <> ''`, to, sensitive); n != 1 {
				t.Errorf("%s: %d messages with sensitive = %d", to, n, sensitive)
			}
		}
	})
}
