// Package demo loads the demonstration region that `caregate serve --demo`
// runs with: partner organisations of both routing kinds, their sites, site
// authorisers, service-desk staff, members and programme staff, each with a
// known password and a fixed authenticator secret. The content is the same
// on every run; it is loaded once into a fresh database and left alone after.
package demo

import (
	"context"
	"fmt"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/web"
)

// Password is every demo account's password.
const Password = "Demo-care-record-2026"

type person struct {
	role, email, given, family, secret string
	global                             []string
}

// The TOTP secrets are fixed so that an evaluator may also add them to a real
// authenticator app; demo mode shows the current code on the sign-in page.
var people = []person{
	{"Programme administrator", "priya.shah@nhs.net", "Priya", "Shah", "JBSWY3DPEHPK3PXPAAAAAAAAAAAAAAAA", []string{auth.RoleAdmin}},
	{"Back office", "tom.baker@nhs.net", "Tom", "Baker", "JBSWY3DPEHPK3PXPBBBBBBBBBBBBBBBB", []string{auth.RoleBackOffice}},
	{"Privacy officer", "grace.okafor@nhs.net", "Grace", "Okafor", "JBSWY3DPEHPK3PXPCCCCCCCCCCCCCCCC", []string{auth.RolePrivacyOfficer}},
	{"Site authoriser (Riverside Community Health)", "sarah.jones@nhs.net", "Sarah", "Jones", "JBSWY3DPEHPK3PXPDDDDDDDDDDDDDDDD", nil},
	{"Service desk (Northgate hospitals)", "daniel.evans@nhs.net", "Daniel", "Evans", "JBSWY3DPEHPK3PXPEEEEEEEEEEEEEEEE", nil},
	{"Member (district nurse, Care Professional role)", "amir.khan@nhs.net", "Amir", "Khan", "JBSWY3DPEHPK3PXPFFFFFFFFFFFFFFFF", nil},
	{"Member (social worker)", "lucy.brown@westshire.gov.uk", "Lucy", "Brown", "JBSWY3DPEHPK3PXPGGGGGGGGGGGGGGGG", nil},
	{"Site authoriser (Meadow Lane Surgery)", "helen.wright@nhs.net", "Helen", "Wright", "JBSWY3DPEHPK3PXPHHHHHHHHHHHHHHHH", nil},
	// Beside Amir Khan (the whole record), a member whose record role
	// shows the role filter: demographics and appointments only.
	{"Member (receptionist, Administrator role)", "ruth.ellis@nhs.net", "Ruth", "Ellis", "JBSWY3DPEHPK3PXPIIIIIIIIIIIIIIII", nil},
}

type organisation struct {
	ods, name, routing, recipient string
	domains                       []string
	sites                         []string
}

var organisations = []organisation{
	{"RX9", "Northgate Teaching Hospitals NHS Foundation Trust", org.RoutingServiceDesk, "", []string{"nhs.net"},
		[]string{"Emergency Department", "Cardiology Outpatients", "Discharge Lounge"}},
	{"RY4", "Riverside Community Health", org.RoutingSiteAuthoriser, "", []string{"nhs.net"},
		[]string{"District Nursing North", "Community Mental Health Team"}},
	{"M85001", "Meadow Lane Surgery", org.RoutingSiteAuthoriser, "helen.wright@nhs.net", []string{"nhs.net"},
		[]string{"Meadow Lane Surgery"}},
	{"WSC01", "Westshire County Council Adult Social Care", org.RoutingSiteAuthoriser, "", []string{"westshire.gov.uk", "gov.uk"},
		[]string{"Hospital Social Work Team"}},
}

// Accounts lists the demo sign-ins for the start page.
func Accounts() []web.DemoAccount {
	out := make([]web.DemoAccount, len(people))
	for i, p := range people {
		out[i] = web.DemoAccount{Role: p.role, Email: p.email, Password: Password, TOTPSecret: p.secret}
	}
	return out
}

// Load fills an empty database with the demo region. It does nothing when the
// demo is already loaded, and refuses a database that holds other accounts.
func Load(ctx context.Context, db *store.DB, users *auth.Service, orgs *org.Service) error {
	var loaded int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = 'demo_loaded'`).Scan(&loaded); err != nil {
		return err
	}
	if loaded > 0 {
		return nil
	}
	if n, err := users.CountUsers(ctx); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("--demo needs a fresh data directory or database: this one already holds %d accounts that are not demo accounts", n)
	}
	ids := map[string]string{}
	for _, p := range people {
		u, err := users.CreateUser(ctx, audit.System, auth.NewUser{Email: p.email, GivenName: p.given, FamilyName: p.family, Roles: p.global})
		if err != nil {
			return fmt.Errorf("demo user %s: %w", p.email, err)
		}
		if err := users.SetPassword(ctx, audit.System, u.ID, Password); err != nil {
			return fmt.Errorf("demo password %s: %w", p.email, err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return users.EnableTOTPWithSecret(ctx, tx, u.ID, p.secret) }); err != nil {
			return fmt.Errorf("demo MFA %s: %w", p.email, err)
		}
		ids[p.email] = u.ID
	}
	admin, err := users.User(ctx, ids["priya.shah@nhs.net"])
	if err != nil {
		return err
	}
	pr, err := authz.Load(ctx, db, admin)
	if err != nil {
		return err
	}
	sites := map[string]string{}
	orgIDs := map[string]string{}
	for _, o := range organisations {
		ods, name, routing, recipient, domains := o.ods, o.name, o.routing, o.recipient, o.domains
		created, err := orgs.CreateOrganisation(ctx, pr, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing,
			AllowedDomains: &domains, PasswordRecipient: &recipient})
		if err != nil {
			return fmt.Errorf("demo organisation %s: %w", name, err)
		}
		orgIDs[ods] = created.ID
		for _, s := range o.sites {
			sn := s
			site, err := orgs.CreateSite(ctx, pr, created.ID, org.SiteInput{Name: &sn})
			if err != nil {
				return fmt.Errorf("demo site %s: %w", s, err)
			}
			sites[s] = site.ID
		}
	}
	appoint := func(site, email string) error {
		_, err := orgs.AppointAuthoriser(ctx, pr, sites[site], org.Appointee{Email: email})
		return err
	}
	for _, a := range [][2]string{{"District Nursing North", "sarah.jones@nhs.net"}, {"Community Mental Health Team", "sarah.jones@nhs.net"},
		{"Meadow Lane Surgery", "helen.wright@nhs.net"}} {
		if err := appoint(a[0], a[1]); err != nil {
			return fmt.Errorf("demo authoriser %s: %w", a[1], err)
		}
	}
	if _, err := orgs.AppointServiceDesk(ctx, pr, orgIDs["RX9"], org.Appointee{Email: "daniel.evans@nhs.net"}); err != nil {
		return fmt.Errorf("demo service desk: %w", err)
	}
	if err := loadOnboarding(ctx, db, orgs, pr); err != nil {
		return err
	}
	members := []struct{ site, email, title, category string }{
		{"District Nursing North", "amir.khan@nhs.net", "District Nurse", "Nursing and midwifery"},
		{"District Nursing North", "sarah.jones@nhs.net", "Team Leader", "Nursing and midwifery"},
		{"Community Mental Health Team", "sarah.jones@nhs.net", "Team Leader", "Nursing and midwifery"},
		{"Hospital Social Work Team", "lucy.brown@westshire.gov.uk", "Social Worker", "Social care"},
		{"Meadow Lane Surgery", "helen.wright@nhs.net", "Practice Manager", "Administrative and clerical"},
		{"Meadow Lane Surgery", "ruth.ellis@nhs.net", "Receptionist", "Administrative and clerical"},
	}
	return db.InTx(ctx, func(tx *store.Tx) error {
		for i, m := range members {
			id := fmt.Sprintf("demo-membership-%d", i+1)
			if err := orgs.AddMemberTx(ctx, tx, audit.System, id, sites[m.site], ids[m.email], m.title, m.category); err != nil {
				return fmt.Errorf("demo member %s: %w", m.email, err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('demo_loaded', '1')`)
		return err
	})
}
