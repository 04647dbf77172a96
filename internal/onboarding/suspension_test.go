package onboarding_test

import (
	"testing"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestSuspensionOnAndOff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		on, msg, err := onboarding.Suspension(ctx, db)
		if err != nil || on || msg != "" {
			t.Fatalf("fresh region: suspended=%v %q %v", on, msg, err)
		}
		if b, err := e.svc.Banner(ctx); err != nil || b != "" {
			t.Fatalf("banner %q, %v before suspending", b, err)
		}
		// A message is needed to suspend, and is checked.
		before := auditCount(t, db)
		for _, m := range []string{"", "  ", "<script>"} {
			_, err := e.svc.SetSuspension(ctx, e.admin, onboarding.SuspensionInput{Suspended: true, Message: m})
			if wantCode(t, err, errs.Invalid); !hasField(err, "message") {
				t.Errorf("message %q: %v does not name the field", m, err)
			}
		}
		if auditCount(t, db) != before {
			t.Fatal("refused suspensions were audited")
		}
		const m = "New access requests are paused while the ICB takes over from the CCG."
		st, err := e.svc.SetSuspension(ctx, e.admin, onboarding.SuspensionInput{Suspended: true, Message: " " + m + " "})
		if err != nil || !st.Suspended || st.Message != m {
			t.Fatalf("suspend: %+v, %v", st, err)
		}
		// Read inside a transaction, as the access-request service does.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			on, msg, err := onboarding.Suspension(ctx, tx)
			if err != nil || !on || msg != m {
				t.Errorf("Suspension in a transaction: %v %q %v", on, msg, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// This process's banner shows the change at once, although it had
		// cached "not suspended"; another process reads it afresh.
		if b, _ := e.svc.Banner(ctx); b != m {
			t.Fatalf("banner %q after suspending, want the message", b)
		}
		other := onboarding.NewService(db, e.log, e.clock, e.orgs)
		if b, _ := other.Banner(ctx); b != m {
			t.Fatalf("another process's banner %q", b)
		}
		if st, err := e.svc.State(ctx, e.backOffice); err != nil || !st.Suspended || st.Message != m {
			t.Fatalf("State = %+v, %v", st, err)
		}
		// Resuming clears the message; both changes are audited.
		if st, err = e.svc.SetSuspension(ctx, e.admin, onboarding.SuspensionInput{Suspended: false, Message: "ignored"}); err != nil || st.Suspended || st.Message != "" {
			t.Fatalf("resume: %+v, %v", st, err)
		}
		if on, msg, _ := onboarding.Suspension(ctx, db); on || msg != "" {
			t.Fatalf("after resuming: %v %q", on, msg)
		}
		if b, _ := e.svc.Banner(ctx); b != "" {
			t.Fatalf("banner %q after resuming", b)
		}
		if actions(t, db, "requests.suspend") != 1 || actions(t, db, "requests.resume") != 1 {
			t.Fatal("suspension changes not audited")
		}
		var detail string
		if err := db.QueryRow(ctx, `SELECT detail FROM audit_events WHERE action = 'requests.suspend'`).Scan(&detail); err != nil || detail == "{}" {
			t.Fatalf("suspension event detail %q, %v; want the message", detail, err)
		}
		auditCount(t, db)
	})
}

// TestSuspensionDefaultMessage: a suspension set directly in the settings
// (say by an operator) without a message still gives one.
func TestSuspensionDefaultMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('requests_suspended', '1')`); err != nil {
			t.Fatal(err)
		}
		on, msg, err := onboarding.Suspension(ctx, db)
		if err != nil || !on || msg != onboarding.DefaultSuspensionMessage {
			t.Fatalf("Suspension = %v %q %v", on, msg, err)
		}
	})
}
