package authz_test

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

var ctx = context.Background()

func TestNilPrincipalIsAnonymous(t *testing.T) {
	t.Parallel()
	var p *authz.Principal
	if p.Has(authz.Admin) || p.IsAdmin() || p.IsAuthoriser() || p.Authorises("s") || p.StaffsServiceDesk("o") {
		t.Fatal("a nil principal holds a role")
	}
	if r := p.Roles(); !slices.Equal(r, []string{authz.Anonymous}) {
		t.Fatalf("Roles() = %v", r)
	}
	if w := p.Who(); w != (audit.Who{}) {
		t.Fatalf("Who() = %+v", w)
	}
	if got := errs.CodeOf(authz.Require(p, authz.Admin)); got != errs.Unauthenticated {
		t.Fatalf("Require(nil) = %s", got)
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	p := &authz.Principal{UserID: "u1", Global: []string{authz.BackOffice}, AuthoriserOf: []string{"s1"}}
	if err := authz.Require(p, authz.Admin, authz.BackOffice); err != nil {
		t.Fatalf("back office refused where back office is allowed: %v", err)
	}
	if got := errs.CodeOf(authz.Require(p, authz.Admin)); got != errs.Forbidden {
		t.Fatalf("Require(admin) = %s, want forbidden", got)
	}
	// Require is about region-wide roles: site and desk roles never satisfy it.
	if got := errs.CodeOf(authz.Require(p, authz.SiteAuthoriser)); got != errs.Forbidden {
		t.Fatalf("Require(site_authoriser) = %s, want forbidden", got)
	}
	if got := errs.CodeOf(authz.Require(p)); got != errs.Forbidden {
		t.Fatalf("Require() with no roles = %s, want forbidden", got)
	}
}

func TestPrincipalRolesAndWho(t *testing.T) {
	t.Parallel()
	p := &authz.Principal{UserID: "u1", Email: "a@nhs.net", IP: "10.0.0.1", UserAgent: "ua",
		Global: []string{authz.Admin, authz.PrivacyOfficer}, AuthoriserOf: []string{"s1"}, ServiceDeskOf: []string{"o1"}, MemberOf: []string{"s2"}}
	if r := p.Roles(); !slices.Equal(r, []string{authz.Member, authz.SiteAuthoriser, authz.ServiceDesk, authz.Admin, authz.PrivacyOfficer}) {
		t.Fatalf("Roles() = %v", r)
	}
	if !p.IsAdmin() || !p.IsAuthoriser() || !p.Authorises("s1") || p.Authorises("s2") || !p.StaffsServiceDesk("o1") || p.StaffsServiceDesk("o2") {
		t.Fatalf("role checks wrong for %+v", p)
	}
	if w := p.Who(); w != (audit.Who{UserID: "u1", Email: "a@nhs.net", IP: "10.0.0.1", UserAgent: "ua"}) {
		t.Fatalf("Who() = %+v", w)
	}
	if r := (&authz.Principal{UserID: "u2"}).Roles(); len(r) != 0 {
		t.Fatalf("a signed-in person with no roles has %v", r)
	}
	if authz.Admin != auth.RoleAdmin || authz.BackOffice != auth.RoleBackOffice || authz.PrivacyOfficer != auth.RolePrivacyOfficer {
		t.Fatal("authz role names differ from the stored auth roles")
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := clock.NewManual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
		l := audit.NewLog(db, c)
		t.Cleanup(l.Close)
		users := auth.NewService(db, l, c, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
		orgs := org.NewService(db, l, c, users)
		sys := audit.Who{UserID: "cli", Email: "cli"}

		adminUser, err := users.CreateUser(ctx, sys, auth.NewUser{Email: "admin@nhs.net", GivenName: "Ad", FamilyName: "Min",
			Roles: []string{auth.RolePrivacyOfficer, auth.RoleAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		adminUser, err = users.User(ctx, adminUser.ID) // as a session would load it: roles in order
		if err != nil {
			t.Fatal(err)
		}
		admin, err := authz.Load(ctx, db, adminUser)
		if err != nil {
			t.Fatal(err)
		}
		if admin.UserID != adminUser.ID || admin.Email != "admin@nhs.net" || admin.Name != "Ad Min" ||
			!slices.Equal(admin.Global, []string{auth.RoleAdmin, auth.RolePrivacyOfficer}) ||
			len(admin.AuthoriserOf)+len(admin.ServiceDeskOf)+len(admin.MemberOf) != 0 || admin.ViaToken {
			t.Fatalf("admin principal %+v", admin)
		}
		if !slices.Equal(admin.Roles(), []string{authz.Admin, authz.PrivacyOfficer}) {
			t.Fatalf("admin roles %v", admin.Roles())
		}

		var orgIDs []string
		for _, ods := range []string{"RR8", "RCB"} {
			o, err := orgs.CreateOrganisation(ctx, admin, org.OrganisationInput{ODSCode: &ods, Name: &ods})
			if err != nil {
				t.Fatal(err)
			}
			orgIDs = append(orgIDs, o.ID)
		}
		site := func(name string) *org.Site {
			s, err := orgs.CreateSite(ctx, admin, orgIDs[0], org.SiteInput{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		zeta, alpha, mid, gone := site("Zeta ward"), site("Alpha ward"), site("Mid ward"), site("Closed ward")

		person := org.Appointee{Email: "multi@nhs.net", GivenName: "Multi", FamilyName: "Role"}
		for _, s := range []*org.Site{zeta, alpha} {
			if _, err := orgs.AppointAuthoriser(ctx, admin, s.ID, person); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range orgIDs {
			if _, err := orgs.AppointServiceDesk(ctx, admin, id, person); err != nil {
				t.Fatal(err)
			}
		}
		u, err := users.UserByEmail(ctx, person.Email)
		if err != nil {
			t.Fatal(err)
		}
		if err := users.SetRoles(ctx, sys, u.ID, []string{auth.RoleBackOffice}); err != nil {
			t.Fatal(err)
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if err := orgs.AddMemberTx(ctx, tx, sys, "m1", mid.ID, u.ID, "Nurse", "nursing"); err != nil {
				return err
			}
			return orgs.AddMemberTx(ctx, tx, sys, "m2", gone.ID, u.ID, "Nurse", "nursing")
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE memberships SET status = 'deactivated' WHERE id = 'm2'`); err != nil {
			t.Fatal(err)
		}

		u, _ = users.User(ctx, u.ID)
		p, err := authz.Load(ctx, db, u)
		if err != nil {
			t.Fatal(err)
		}
		// Authorised sites come in site-name order, for menus.
		if !slices.Equal(p.AuthoriserOf, []string{alpha.ID, zeta.ID}) {
			t.Fatalf("AuthoriserOf %v, want alpha then zeta", p.AuthoriserOf)
		}
		wantDesks := slices.Clone(orgIDs)
		sort.Strings(wantDesks)
		if !slices.Equal(p.ServiceDeskOf, wantDesks) {
			t.Fatalf("ServiceDeskOf %v, want %v", p.ServiceDeskOf, wantDesks)
		}
		// Only active memberships count.
		if !slices.Equal(p.MemberOf, []string{mid.ID}) {
			t.Fatalf("MemberOf %v, want only the active membership", p.MemberOf)
		}
		if !slices.Equal(p.Global, []string{auth.RoleBackOffice}) || p.IsAdmin() || !p.Has(authz.BackOffice) {
			t.Fatalf("global roles %v", p.Global)
		}
		if !slices.Equal(p.Roles(), []string{authz.Member, authz.SiteAuthoriser, authz.ServiceDesk, authz.BackOffice}) {
			t.Fatalf("Roles() = %v", p.Roles())
		}

		// Loading reflects removals at once.
		if err := orgs.RemoveAuthoriser(ctx, admin, zeta.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := orgs.RemoveServiceDesk(ctx, admin, orgIDs[0], u.ID); err != nil {
			t.Fatal(err)
		}
		p, err = authz.Load(ctx, db, u)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.AuthoriserOf, []string{alpha.ID}) || !slices.Equal(p.ServiceDeskOf, orgIDs[1:]) {
			t.Fatalf("after removals %+v", p)
		}

		// Someone with no roles at all.
		plain, _ := users.CreateUser(ctx, sys, auth.NewUser{Email: "plain@nhs.net", GivenName: "P", FamilyName: "Lain"})
		pp, err := authz.Load(ctx, db, plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(pp.Roles()) != 0 || pp.IsAuthoriser() || pp.Has(authz.Admin) {
			t.Fatalf("plain principal %+v has roles %v", pp, pp.Roles())
		}
		if n, err := audit.Verify(ctx, db); err != nil || n == 0 {
			t.Fatalf("audit trail: %d, %v", n, err)
		}
	})
}
