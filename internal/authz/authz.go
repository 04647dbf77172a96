// Package authz says who is acting and what they may do. A Principal is the
// signed-in person with every portal role they hold: region-wide roles
// (administrator, back office, privacy officer), the sites they authorise,
// the organisations whose service desk they staff and the sites they belong
// to. Domain services take a Principal and check it before they act.
package authz

import (
	"context"
	"slices"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// Portal role names, as used in the permission matrix and the API.
const (
	Anonymous      = "anonymous"
	Member         = "member"
	SiteAuthoriser = "site_authoriser"
	ServiceDesk    = "service_desk"
	BackOffice     = auth.RoleBackOffice
	PrivacyOfficer = auth.RolePrivacyOfficer
	Admin          = auth.RoleAdmin
)

// Principal is an authenticated person and their roles.
type Principal struct {
	UserID        string
	Email         string
	Name          string
	Global        []string // region-wide roles
	AuthoriserOf  []string // site ids
	ServiceDeskOf []string // organisation ids
	MemberOf      []string // site ids (active memberships)
	IP, UserAgent string
	ViaToken      bool // authenticated by API token rather than session
}

// Who returns the audit identity of the principal.
func (p *Principal) Who() audit.Who {
	if p == nil {
		return audit.Who{}
	}
	return audit.Who{UserID: p.UserID, Email: p.Email, IP: p.IP, UserAgent: p.UserAgent}
}

// Has reports whether p holds a region-wide role.
func (p *Principal) Has(role string) bool { return p != nil && slices.Contains(p.Global, role) }

// IsAdmin reports whether p is a programme/system administrator.
func (p *Principal) IsAdmin() bool { return p.Has(Admin) }

// IsAuthoriser reports whether p authorises at least one site.
func (p *Principal) IsAuthoriser() bool { return p != nil && len(p.AuthoriserOf) > 0 }

// CanReadAudit reports whether p may read the audit trail: programme
// administrators and privacy officers. The portal and the API both ask here.
func (p *Principal) CanReadAudit() bool { return p.IsAdmin() || p.Has(PrivacyOfficer) }

// Authorises reports whether p is an authoriser of the site.
func (p *Principal) Authorises(siteID string) bool {
	return p != nil && slices.Contains(p.AuthoriserOf, siteID)
}

// StaffsServiceDesk reports whether p is on the service desk of the organisation.
func (p *Principal) StaffsServiceDesk(orgID string) bool {
	return p != nil && slices.Contains(p.ServiceDeskOf, orgID)
}

// Roles lists every portal role p holds, for display and the API.
func (p *Principal) Roles() []string {
	if p == nil {
		return []string{Anonymous}
	}
	var r []string
	if len(p.MemberOf) > 0 {
		r = append(r, Member)
	}
	if len(p.AuthoriserOf) > 0 {
		r = append(r, SiteAuthoriser)
	}
	if len(p.ServiceDeskOf) > 0 {
		r = append(r, ServiceDesk)
	}
	return append(r, p.Global...)
}

// Require returns Forbidden unless p holds one of the region-wide roles.
func Require(p *Principal, roles ...string) error {
	if p == nil {
		return errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	for _, r := range roles {
		if p.Has(r) {
			return nil
		}
	}
	return errs.E(errs.Forbidden, "You do not have permission to do this")
}

// Load builds the principal for a user from the database.
func Load(ctx context.Context, db *store.DB, u *auth.User) (*Principal, error) {
	p := &Principal{UserID: u.ID, Email: u.Email, Name: u.Name(), Global: u.Roles}
	// One query for the three lists (a principal is loaded on every
	// request): the kind, the id, and the order each list is shown in —
	// sites authorised by name, the others by id.
	rows, err := db.Query(ctx, `SELECT 'a', sa.site_id, s.name FROM site_authorisers sa JOIN sites s ON s.id = sa.site_id WHERE sa.user_id = ?
		UNION ALL SELECT 'd', organisation_id, organisation_id FROM service_desk_staff WHERE user_id = ?
		UNION ALL SELECT 'm', site_id, site_id FROM memberships WHERE user_id = ? AND status = 'active'
		ORDER BY 1, 3, 2`, u.ID, u.ID, u.ID)
	if err != nil {
		return nil, errs.Wrap(err, "load roles")
	}
	defer rows.Close()
	for rows.Next() {
		var kind, id, order string
		if err := rows.Scan(&kind, &id, &order); err != nil {
			return nil, errs.Wrap(err, "load roles")
		}
		switch kind {
		case "a":
			p.AuthoriserOf = append(p.AuthoriserOf, id)
		case "d":
			p.ServiceDeskOf = append(p.ServiceDeskOf, id)
		case "m":
			p.MemberOf = append(p.MemberOf, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load roles")
	}
	return p, nil
}
