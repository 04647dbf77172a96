package demo

import (
	"context"
	"fmt"
	"regexp"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/store"
)

// demoInvitations are the pending invitations of the demo region, by the
// authoriser who sends them and their site.
var demoInvitations = []struct {
	by, site string
	in       member.InvitationInput
}{
	{"sarah.jones@nhs.net", "District Nursing North", member.InvitationInput{GivenName: "Nadia", FamilyName: "Hussain", Email: "nadia.hussain@nhs.net",
		Phone: "0113 496 0101", JobTitle: "Community Staff Nurse", JobCategory: "Nursing and midwifery", RecordRole: access.RoleCareProfessional, IGConfirmed: true}},
	{"sarah.jones@nhs.net", "District Nursing North", member.InvitationInput{GivenName: "Joe", FamilyName: "Patel", Email: "joe.patel@nhs.net",
		Phone: "0113 496 0102", JobTitle: "Bank Healthcare Assistant", JobCategory: "Additional clinical services", RecordRole: access.RoleCareProfessional,
		FinishingDate: "2027-03-31", IGConfirmed: true}},
	{"helen.wright@nhs.net", "Meadow Lane Surgery", member.InvitationInput{GivenName: "Mark", FamilyName: "Green", Email: "mark.green@nhs.net",
		Phone: "0113 496 0201", JobTitle: "Receptionist", JobCategory: "Administrative and clerical", RecordRole: access.RoleAdministrator, IGConfirmed: true}},
}

var demoLink = regexp.MustCompile(`/invitations/([A-Za-z0-9_-]+)`)

// LoadMembers fills the authoriser's portal of the demo region: pending
// invitations at District Nursing North and Meadow Lane Surgery, and Emma
// Clarke, who accepted her invitation and is now deactivated (maternity
// leave), to be reactivated from the membership history. Call it after
// Load, LoadRequests and LoadTraining.
func LoadMembers(ctx context.Context, db *store.DB, svc *member.Service) error {
	var loaded int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = 'demo_members_loaded'`).Scan(&loaded); err != nil {
		return err
	}
	if loaded > 0 {
		return nil
	}
	who := func(email string) (*authz.Principal, error) {
		var u struct{ id, given, family string }
		if err := db.QueryRow(ctx, `SELECT id, given_name, family_name FROM users WHERE email = ?`, email).Scan(&u.id, &u.given, &u.family); err != nil {
			return nil, fmt.Errorf("demo members: %s: %w", email, err)
		}
		return &authz.Principal{UserID: u.id, Email: email, Name: u.given + " " + u.family}, nil
	}
	site := func(name string) (string, error) {
		var id string
		err := db.QueryRow(ctx, `SELECT id FROM sites WHERE name = ?`, name).Scan(&id)
		return id, err
	}
	authorisers := map[string]*authz.Principal{}
	for _, email := range []string{"sarah.jones@nhs.net", "helen.wright@nhs.net"} {
		p, err := who(email)
		if err != nil {
			return err
		}
		rows, err := db.Query(ctx, `SELECT site_id FROM site_authorisers WHERE user_id = ?`, p.UserID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			p.AuthoriserOf = append(p.AuthoriserOf, id)
		}
		rows.Close()
		authorisers[email] = p
	}
	for _, d := range demoInvitations {
		id, err := site(d.site)
		if err != nil {
			return fmt.Errorf("demo site %s: %w", d.site, err)
		}
		pl, err := svc.Open(ctx, authorisers[d.by], id)
		if err != nil {
			return fmt.Errorf("demo site %s: %w", d.site, err)
		}
		if _, err := svc.Invite(ctx, pl, d.in); err != nil {
			return fmt.Errorf("demo invitation %s: %w", d.in.Email, err)
		}
	}
	// Emma Clarke joined District Nursing North and is on maternity leave.
	nursing, err := site("District Nursing North")
	if err != nil {
		return err
	}
	atNursing, err := svc.Open(ctx, authorisers["sarah.jones@nhs.net"], nursing)
	if err != nil {
		return err
	}
	inv, err := svc.Invite(ctx, atNursing, member.InvitationInput{GivenName: "Emma", FamilyName: "Clarke", Email: "emma.clarke@nhs.net",
		Phone: "0113 496 0103", JobTitle: "District Nurse", JobCategory: "Nursing and midwifery", RecordRole: access.RoleCareProfessional, IGConfirmed: true})
	if err != nil {
		return fmt.Errorf("demo invitation for Emma Clarke: %w", err)
	}
	var body string
	if err := db.QueryRow(ctx, `SELECT text_body FROM outbox WHERE related_type = 'invitation' AND related_id = ?`, inv.ID).Scan(&body); err != nil {
		return fmt.Errorf("demo invitation e-mail: %w", err)
	}
	m := demoLink.FindStringSubmatch(body)
	if m == nil {
		return fmt.Errorf("demo invitation e-mail has no link")
	}
	a, err := svc.Accept(ctx, audit.System, m[1], Password, Password)
	if err != nil {
		return fmt.Errorf("demo acceptance for Emma Clarke: %w", err)
	}
	ms, err := svc.History(ctx, atNursing)
	if err != nil {
		return err
	}
	for _, mb := range ms {
		if mb.UserID == a.UserID {
			if _, err := svc.Deactivate(ctx, atNursing, mb.ID, "maternity_leave", ""); err != nil {
				return fmt.Errorf("demo deactivation of Emma Clarke: %w", err)
			}
		}
	}
	_, err = db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('demo_members_loaded', '1')`)
	return err
}
