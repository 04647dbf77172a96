package lifecycle

import (
	"context"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
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
	return s.batches(ctx, r, &r.InvitationsExpired, nil, func(tx *store.Tx, limit int) (counts, error) {
		rows, err := tx.Query(ctx, q, t, t, t, limit, t)
		if err != nil {
			return counts{}, errs.Wrap(err, "expire invitations")
		}
		type expired struct {
			id, site string
			expires  int64
		}
		var list []expired
		for rows.Next() {
			var e expired
			if err := rows.Scan(&e.id, &e.site, &e.expires); err != nil {
				rows.Close()
				return counts{}, errs.Wrap(err, "expire invitations")
			}
			list = append(list, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return counts{}, errs.Wrap(err, "expire invitations")
		}
		for _, e := range list {
			if err := s.log.Record(ctx, tx, audit.New(audit.System, "invitation.expire", "invitation", e.id, audit.Success,
				map[string]string{"rule": RuleInvitationExpiry, "site_id": e.site,
					"expires_at": time.UnixMicro(e.expires).UTC().Format(time.RFC3339)})); err != nil {
				return counts{}, err
			}
		}
		return counts{changed: len(list)}, nil
	})
}
