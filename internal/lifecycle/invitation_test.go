package lifecycle_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/lifecycle"
)

// A pending invitation expires exactly 30 days after it was created, not a
// microsecond before; it stays in the history, its link and its open key
// are released, and the expiry is audited as done by the system.
func TestInvitationExpiresExactlyAt30Days(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		o := w.organisation("RY4")
		ward := w.site(o, "Ward 7")
		inv := w.invitation(ward, o, "ivy@nhs.net")
		accepted := w.invitation(ward, o, "abe@nhs.net")
		w.exec(`UPDATE invitations SET status = 'accepted', open_key = NULL WHERE id = ?`, accepted)
		w.at(t0.Add(10 * day))
		later := w.invitation(ward, o, "lou@nhs.net")

		w.at(t0.Add(30*day - time.Microsecond))
		w.sweep(lifecycle.Result{})
		if s := w.str(`SELECT status FROM invitations WHERE id = ?`, inv); s != "pending" {
			t.Fatalf("a microsecond before 30 days: %s", s)
		}
		w.at(t0.Add(30 * day))
		w.sweep(lifecycle.Result{InvitationsExpired: 1})
		var status, closedBy string
		var closedAt, updatedAt int64
		var openKey *string
		if err := w.db.QueryRow(w.ctx, `SELECT status, open_key, closed_at, closed_by, updated_at FROM invitations WHERE id = ?`, inv).
			Scan(&status, &openKey, &closedAt, &closedBy, &updatedAt); err != nil {
			t.Fatal(err)
		}
		now := w.clock.Now().UnixMicro()
		if status != "expired" || openKey != nil || closedAt != now || closedBy != "" || updatedAt != now {
			t.Fatalf("expired invitation: %s %v %d %q %d", status, openKey, closedAt, closedBy, updatedAt)
		}
		if s := w.str(`SELECT status FROM invitations WHERE id = ?`, accepted); s != "accepted" {
			t.Errorf("an accepted invitation became %s", s)
		}
		if s := w.str(`SELECT status FROM invitations WHERE id = ?`, later); s != "pending" {
			t.Errorf("a later invitation became %s", s)
		}
		evs := w.events("invitation.expire")
		if len(evs) != 1 || !strings.HasPrefix(evs[0], "system/system "+inv+" ") || !strings.Contains(evs[0], `"rule":"invitation_expiry"`) ||
			!strings.Contains(evs[0], `"site_id":"`+ward+`"`) {
			t.Fatalf("audit: %v", evs)
		}
		w.sweep(lifecycle.Result{}) // a second sweep changes nothing
		if n := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.expire'`); n != 1 {
			t.Errorf("%d expiry events after a second sweep", n)
		}
		// The person can be invited to the site again.
		w.invitation(ward, o, "ivy@nhs.net")
		w.at(t0.Add(40 * day))
		w.sweep(lifecycle.Result{InvitationsExpired: 1}) // the one sent on day 10
		if n := w.count(`SELECT COUNT(*) FROM invitations WHERE status = 'expired'`); n != 2 {
			t.Errorf("%d expired in the history, want 2", n)
		}
		w.verifyAudit()
	})
}
