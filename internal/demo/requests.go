package demo

import (
	"context"
	"fmt"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// LoadRequests adds access requests in every state to the demo region, once:
// completed (Amir Khan's, a Care Professional, and Ruth Ellis's, an
// Administrator: both have active record accounts), in progress, validated, submitted (waiting for a service desk),
// needing information, rejected and cancelled. Their e-mails wait in the
// outbox, readable by administrators.
func LoadRequests(ctx context.Context, db *store.DB, users *auth.Service, orgs *org.Service, acc *access.Service) error {
	var loaded int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = 'demo_requests_loaded'`).Scan(&loaded); err != nil {
		return err
	}
	if loaded > 0 {
		return nil
	}
	who := func(email string) (*authz.Principal, error) {
		u, err := users.UserByEmail(ctx, email)
		if err != nil {
			return nil, err
		}
		return authz.Load(ctx, db, u)
	}
	admin, err := who("priya.shah@nhs.net")
	if err != nil {
		return err
	}
	siteID := map[string]string{}
	orgList, err := orgs.ListOrganisations(ctx, admin)
	if err != nil {
		return err
	}
	for _, o := range orgList {
		sites, err := orgs.Sites(ctx, admin, o.ID)
		if err != nil {
			return err
		}
		for _, s := range sites {
			siteID[s.Name] = s.ID
		}
	}
	// An authoriser at the hospital trust, whose requests wait for its
	// service desk. They have no demo sign-in.
	if _, err := orgs.AppointAuthoriser(ctx, admin, siteID["Emergency Department"],
		org.Appointee{Email: "owen.price@nhs.net", GivenName: "Owen", FamilyName: "Price"}); err != nil {
		return fmt.Errorf("demo authoriser: %w", err)
	}
	sarah, err := who("sarah.jones@nhs.net")
	if err != nil {
		return err
	}
	helen, err := who("helen.wright@nhs.net")
	if err != nil {
		return err
	}
	owen, err := who("owen.price@nhs.net")
	if err != nil {
		return err
	}
	tom, err := who("tom.baker@nhs.net")
	if err != nil {
		return err
	}
	newUser := func(site, email, given, family, job, role string) access.Input {
		return access.Input{Type: access.TypeNewUser, SiteID: siteID[site], Email: email, GivenName: given, FamilyName: family,
			JobTitle: job, Role: role, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
	}
	// complete is the back office creating the record account.
	complete := func(r *access.Request) error {
		if _, err := acc.Assign(ctx, tom, r.ID, ""); err != nil {
			return err
		}
		_, err := acc.Complete(ctx, tom, r.ID, "Record account created; user name and password sent separately")
		return err
	}
	steps := []struct {
		by  *authz.Principal
		in  access.Input
		act func(r *access.Request) error
	}{
		{sarah, newUser("District Nursing North", "amir.khan@nhs.net", "Amir", "Khan", "District Nurse", access.RoleCareProfessional), complete},
		{sarah, newUser("District Nursing North", "beth.carter@nhs.net", "Beth", "Carter", "Healthcare Assistant", access.RoleAdministrator),
			func(r *access.Request) error { _, err := acc.Assign(ctx, tom, r.ID, ""); return err }},
		{helen, newUser("Meadow Lane Surgery", "raj.patel@nhs.net", "Raj", "Patel", "Salaried GP", access.RoleCareProfessional), nil},
		{owen, newUser("Emergency Department", "nina.scott@nhs.net", "Nina", "Scott", "Staff Nurse", access.RoleCareProfessional), nil},
		{sarah, newUser("Community Mental Health Team", "chloe.davies@nhs.net", "Chloe", "Davies", "Mental Health Nurse", access.RoleCareProfessional),
			func(r *access.Request) error {
				if _, err := acc.Assign(ctx, tom, r.ID, ""); err != nil {
					return err
				}
				_, err := acc.AskForInformation(ctx, tom, r.ID, "Is Chloe on a temporary contract? If so, please give her finishing date.")
				return err
			}},
		{helen, newUser("Meadow Lane Surgery", "sam.green@nhs.net", "Sam", "Green", "Research Assistant", access.RoleCareProfessional),
			func(r *access.Request) error {
				_, err := acc.Reject(ctx, tom, r.ID, "Access for research is not direct care. Please contact the programme team about secondary uses.")
				return err
			}},
		{sarah, newUser("Community Mental Health Team", "dan.hughes@nhs.net", "Dan", "Hughes", "Psychologist", access.RoleCareProfessional),
			func(r *access.Request) error {
				_, err := acc.Cancel(ctx, sarah, r.ID, "Raised twice by mistake")
				return err
			}},
		// Ruth Ellis, receptionist at Meadow Lane, has the Administrator
		// record role: demographics and appointments only.
		{helen, newUser("Meadow Lane Surgery", "ruth.ellis@nhs.net", "Ruth", "Ellis", "Receptionist", access.RoleAdministrator), complete},
	}
	for _, st := range steps {
		r, err := acc.Raise(ctx, st.by, st.in)
		if err != nil {
			return fmt.Errorf("demo request for %s: %w", st.in.Email, err)
		}
		if st.act != nil {
			if err := st.act(r); err != nil {
				return fmt.Errorf("demo request for %s: %w", st.in.Email, err)
			}
		}
	}
	_, err = db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('demo_requests_loaded', '1')`)
	return err
}
