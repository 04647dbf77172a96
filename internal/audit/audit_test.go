package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// t0 is the manual clock's starting time in every test.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var admin = audit.Who{UserID: "u-admin", Email: "admin@nhs.net", IP: "10.0.0.1", UserAgent: "test"}

// newLog returns a Log on db with a manual clock, closed when the test ends.
func newLog(t testing.TB, db *store.DB) (*audit.Log, *clock.Manual) {
	t.Helper()
	c := clock.NewManual(t0)
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	return l, c
}

// appendN appends n events one after another; the i-th (from 1) has object
// id "obj-i".
func appendN(t testing.TB, l *audit.Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		ev := audit.New(admin, "record.view", "patient", fmt.Sprintf("obj-%d", i), audit.Success,
			map[string]string{"n": fmt.Sprint(i)})
		if err := l.Append(context.Background(), ev); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// mustVerify fails the test unless the trail is intact with exactly want
// events.
func mustVerify(t testing.TB, db *store.DB, want int64) {
	t.Helper()
	n, err := audit.Verify(context.Background(), db)
	if err != nil {
		t.Fatalf("Verify: %v (after %d events)", err, n)
	}
	if n != want {
		t.Fatalf("Verify checked %d events, want %d", n, want)
	}
}

// countRows returns the number of rows in audit_events.
func countRows(t testing.TB, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRecordCommitsAndRollsBackWithTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _ := newLog(t, db)

		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, "k1", "v1"); err != nil {
				return err
			}
			return l.Record(ctx, tx, audit.New(admin, "setting.change", "setting", "k1", audit.Success, map[string]string{"value": "v1"}))
		})
		if err != nil {
			t.Fatal(err)
		}
		mustVerify(t, db, 1)

		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, "k2", "v2"); err != nil {
				return err
			}
			if err := l.Record(ctx, tx, audit.New(admin, "setting.change", "setting", "k2", audit.Success, nil)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		var settings int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, "k2").Scan(&settings); err != nil {
			t.Fatal(err)
		}
		evs, _, err := audit.Search(ctx, db, audit.Filter{ObjectType: "setting", ObjectID: "k2"})
		if err != nil {
			t.Fatal(err)
		}
		if settings != 0 || len(evs) != 0 {
			t.Fatalf("after rollback: %d settings rows and %d events remain, want none", settings, len(evs))
		}
		mustVerify(t, db, 1)

		// The rolled-back event left no gap: the next ones take seq 2 and 3
		// and the trail still verifies.
		if err := l.Append(ctx, audit.New(admin, "record.view", "patient", "p1", audit.Success, nil)); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return l.Record(ctx, tx, audit.New(admin, "setting.change", "setting", "k3", audit.Success, nil))
		}); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, db, 3)
		evs, _, err = audit.Search(ctx, db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.ObjectID))
		}
		if fmt.Sprint(got) != "[3:k3 2:p1 1:k1]" {
			t.Fatalf("events = %v", got)
		}
	})
}

func TestRecordFillsEventFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, c := newLog(t, db)
		c.Advance(1500 * time.Nanosecond) // below a microsecond is not stored
		ev := audit.New(audit.Who{UserID: "u1"}, "auth.login", "user", "u1", "", map[string]string{"method": "totp"})
		if err := l.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		evs, _, err := audit.Search(ctx, db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("got %d events", len(evs))
		}
		e := evs[0]
		if e.Seq != 1 || !e.At.Equal(t0.Add(time.Microsecond)) || e.Actor != "anonymous" || e.Outcome != audit.Success ||
			e.Detail["method"] != "totp" || e.PrevHash != "" || len(e.Hash) != 64 {
			t.Fatalf("stored event = %+v", e)
		}
	})
}

func TestAppendSurvivesHostileText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _ := newLog(t, db)
		// A client-supplied User-Agent can hold anything: invalid UTF-8, NUL
		// bytes, or multi-byte characters cut by the 512-byte limit.
		// PostgreSQL refuses such text; one hostile request must not fail the
		// events of everyone sharing its commit.
		long := ""
		for len(long) < 600 {
			long += "é"
		}
		long = "x" + long // odd offset: byte 512 falls inside a character
		hostile := []audit.Who{
			{UserID: "u1", Email: "a@nhs.net", UserAgent: "bad \xff\xfe utf-8"},
			{UserID: "u2", Email: "b@nhs.net", UserAgent: "nul \x00 byte"},
			{UserID: "u3", Email: "c@nhs.net", UserAgent: long},
			{UserID: "u4\x00", Email: "d@nhs.net"},
		}
		errs := make(chan error, len(hostile))
		for _, who := range hostile {
			go func() {
				errs <- l.Append(ctx, audit.New(who, "record.view", "patient", "p\xff", audit.Success, map[string]string{"q": "\x00\xff"}))
			}()
		}
		for range hostile {
			if err := <-errs; err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		mustVerify(t, db, int64(len(hostile)))
		evs, _, err := audit.Search(ctx, db, audit.Filter{Actor: "c@nhs.net"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || len(evs[0].UserAgent) > 512 || len(evs[0].UserAgent) < 500 {
			t.Fatalf("long user agent stored as %d bytes", len(evs[0].UserAgent))
		}
	})
}

func TestAppendAfterClose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := audit.NewLog(db, clock.NewManual(t0))
		// Appends racing Close either land or report ErrClosed; none hangs.
		ctx2, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		errs := make(chan error, 64)
		for range 64 {
			go func() { errs <- l.Append(ctx2, audit.New(admin, "record.view", "patient", "p", audit.Success, nil)) }()
		}
		l.Close()
		ok := int64(0)
		for range 64 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, audit.ErrClosed):
			default:
				t.Fatalf("Append racing Close: %v", err)
			}
		}
		if err := l.Append(ctx, audit.New(admin, "record.view", "patient", "p", audit.Success, nil)); !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}
		l.Close() // a second Close is harmless
		mustVerify(t, db, ok)
	})
}
