package lifecycle

import (
	"context"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/store"
)

// RuleInvitationExpiry names the invitation expiry rule in audit events;
// package member applies the same rule to one site's due invitations
// before it checks for duplicates.
const RuleInvitationExpiry = member.RuleInvitationExpiry

// expireInvitations closes every pending invitation whose expiry time has
// come (expires_at <= now: exactly at 30 days it has expired). The row is
// kept, so it stays in the site's history; its open_key is cleared, so the
// person can be invited again, and its link stops working.
func (s *Service) expireInvitations(ctx context.Context, now time.Time, r *Result) error {
	t := micros(now)
	// The pick walks invitations_due (pending only, by expiry); an
	// invitation accepted or cancelled meanwhile is left alone.
	due := `status = 'pending' AND expires_at <= ?`
	q := s.update("invitations") + ` SET status = 'expired', open_key = NULL, closed_at = ?, closed_by = '', updated_at = ?
		WHERE ` + s.pick("invitations", due, "expires_at") + ` AND ` + due + `
		RETURNING id, site_id, expires_at`
	return s.batches(ctx, lockInvitationExpiry, r, &r.InvitationsExpired, nil, func(tx *store.Tx, limit int) (counts, error) {
		n, err := s.auditReturned(ctx, tx, "expire invitations", q, []any{t, t, t, limit, t}, func(row scanner) (audit.Event, error) {
			var id, site string
			var expires int64
			err := row.Scan(&id, &site, &expires)
			return audit.New(audit.System, "invitation.expire", "invitation", id, audit.Success,
				map[string]string{"rule": RuleInvitationExpiry, "site_id": site,
					"expires_at": time.UnixMicro(expires).UTC().Format(time.RFC3339)}), err
		})
		return counts{changed: n}, err
	})
}
