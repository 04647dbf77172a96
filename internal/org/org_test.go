package org_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestCreateOrganisation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		before := auditCount(t, db)
		o, err := e.svc.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: ptr(" rr8 "), Name: ptr("  Leeds Teaching Hospitals  ")})
		if err != nil {
			t.Fatal(err)
		}
		// Defaults: active, read-only ISA, validated by the site authoriser, nhs.net and gov.uk.
		if o.ODSCode != "RR8" || o.Name != "Leeds Teaching Hospitals" || o.Status != org.StatusActive || o.ISALevel != org.ISAReadOnly ||
			o.Routing != org.RoutingSiteAuthoriser || !slices.Equal(o.AllowedDomains, []string{"nhs.net", "gov.uk"}) ||
			o.PasswordRecipient != "" || !o.CreatedAt.Equal(t0) || !o.UpdatedAt.Equal(t0) || o.ID == "" {
			t.Fatalf("created %+v", o)
		}
		got, err := e.svc.Organisation(ctx, e.admin, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ODSCode != o.ODSCode || got.Name != o.Name || !slices.Equal(got.AllowedDomains, o.AllowedDomains) || !got.CreatedAt.Equal(t0) {
			t.Fatalf("loaded %+v, created %+v", got, o)
		}

		full, err := e.svc.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: ptr("B86001"), Name: ptr("Beeston Surgery"),
			Status: ptr(org.StatusSuspended), ISALevel: ptr(org.ISAWrite), Routing: ptr(org.RoutingServiceDesk),
			AllowedDomains: &[]string{" @NHS.net", "leedsgp.example.org", "nhs.net", ""}, PasswordRecipient: ptr(" IT.Lead@LeedsGP.example.org ")})
		if err != nil {
			t.Fatal(err)
		}
		if full.Status != org.StatusSuspended || full.ISALevel != org.ISAWrite || full.Routing != org.RoutingServiceDesk ||
			!slices.Equal(full.AllowedDomains, []string{"nhs.net", "leedsgp.example.org"}) || full.PasswordRecipient != "it.lead@leedsgp.example.org" {
			t.Fatalf("created %+v", full)
		}

		list, err := e.svc.ListOrganisations(ctx, e.admin)
		if err != nil || len(list) != 2 || list[0].ID != full.ID || list[1].ID != o.ID {
			t.Fatalf("ListOrganisations (by name) = %v, %v", list, err)
		}

		evs := events(t, db, audit.Filter{Action: "organisation.create"})
		if len(evs) != 2 || evs[0].ObjectID != o.ID || evs[0].ObjectType != "organisation" || evs[0].ActorID != e.admin.UserID ||
			evs[0].IP != "10.1.2.3" || evs[0].Detail["ods_code"] != "RR8" || evs[0].Detail["name"] != "Leeds Teaching Hospitals" {
			t.Fatalf("audit %+v", evs)
		}
		if after := auditCount(t, db); after != before+2 {
			t.Fatalf("audit trail grew by %d, want 2", after-before)
		}
		_, err = e.svc.Organisation(ctx, e.admin, "no-such-org")
		wantCode(t, err, errs.NotFound)
	})
}

func TestOrganisationValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 201)
	many := make([]string, 51)
	for i := range many {
		many[i] = "d" + strings.Repeat("x", i) + ".nhs.uk"
	}
	cases := []struct {
		name  string
		in    org.OrganisationInput
		field string
	}{
		{"no ODS code", org.OrganisationInput{Name: ptr("A")}, "ods_code"},
		{"ODS code too short", org.OrganisationInput{ODSCode: ptr("R8"), Name: ptr("A")}, "ods_code"},
		{"ODS code too long", org.OrganisationInput{ODSCode: ptr("ABCDEFGHI12"), Name: ptr("A")}, "ods_code"},
		{"ODS code with punctuation", org.OrganisationInput{ODSCode: ptr("RR-8"), Name: ptr("A")}, "ods_code"},
		{"ODS code with a space", org.OrganisationInput{ODSCode: ptr("RR 8"), Name: ptr("A")}, "ods_code"},
		{"no name", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("   ")}, "name"},
		{"name too long", org.OrganisationInput{ODSCode: ptr("RR8"), Name: &long}, "name"},
		{"markup in name", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("<b>Trust</b>")}, "name"},
		{"unknown status", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), Status: ptr("closed")}, "status"},
		{"unknown ISA level", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), ISALevel: ptr("full")}, "isa_level"},
		{"unknown routing", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), Routing: ptr("email")}, "routing"},
		{"no domains", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), AllowedDomains: &[]string{}}, "allowed_domains"},
		{"only blank domains", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), AllowedDomains: &[]string{" ", "@"}}, "allowed_domains"},
		{"bad domain", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), AllowedDomains: &[]string{"nhs.net", "not a domain"}}, "allowed_domains"},
		{"domain without a dot", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), AllowedDomains: &[]string{"localhost"}}, "allowed_domains"},
		{"e-mail address as domain", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), AllowedDomains: &[]string{"x@nhs.net"}}, "allowed_domains"},
		{"51 domains", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), AllowedDomains: &many}, "allowed_domains"},
		{"recipient off the allowed domains", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), PasswordRecipient: ptr("it@example.com")}, "password_recipient"},
		{"recipient on a subdomain", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), PasswordRecipient: ptr("it@mail.nhs.net")}, "password_recipient"},
		{"recipient without a local part", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), PasswordRecipient: ptr("@nhs.net")}, "password_recipient"},
		{"recipient not an address", org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("A"), PasswordRecipient: ptr("IT desk <it@nhs.net>")}, "password_recipient"},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		before := auditCount(t, db)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.svc.CreateOrganisation(ctx, e.admin, c.in)
				wantCode(t, err, errs.Invalid)
				fieldMessage(t, err, c.field)
			})
		}
		if n := count(t, db, "organisations"); n != 0 {
			t.Fatalf("%d organisations stored from invalid input", n)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("invalid input wrote %d audit events", after-before)
		}

		// Several problems are reported together.
		_, err := e.svc.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: ptr("x"), Name: ptr(""), ISALevel: ptr("?")})
		if got := wantCode(t, err, errs.Invalid); len(got.Fields) != 3 {
			t.Fatalf("fields %+v, want ods_code, name and isa_level", got.Fields)
		}

		// Boundaries that are allowed; many trust codes have no digit (RWE).
		for _, ods := range []string{"8JN", "ABCDEFGH12", "rwe"} {
			if _, err := e.svc.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: ptr(ods), Name: ptr("Org " + ods),
				AllowedDomains: &[]string{"nhs.net"}, PasswordRecipient: ptr("it.desk@nhs.net")}); err != nil {
				t.Fatalf("ODS code %s refused: %v", ods, err)
			}
		}
	})
}

func TestDuplicateODSCode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		other := e.organisation(t, "RXF", "Mid Yorkshire")
		if other.ODSCode != "RXF" {
			t.Fatal(other.ODSCode)
		}
		before := auditCount(t, db)

		_, err := e.svc.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: ptr("rr8"), Name: ptr("Copy")})
		if m := fieldMessage(t, wantCode(t, err, errs.Conflict), "ods_code"); !strings.Contains(m, "RR8") {
			t.Fatalf("conflict message %q", m)
		}
		_, err = e.svc.UpdateOrganisation(ctx, e.admin, other.ID, org.OrganisationInput{ODSCode: ptr("RR8"), Name: ptr("Renamed")})
		wantCode(t, err, errs.Conflict)

		got, _ := e.svc.Organisation(ctx, e.admin, other.ID)
		if got.ODSCode != "RXF" || got.Name != "Mid Yorkshire" {
			t.Fatalf("refused update applied: %+v", got)
		}
		if n := count(t, db, "organisations"); n != 2 {
			t.Fatalf("%d organisations", n)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("refused changes wrote %d audit events", after-before)
		}
	})
}

func TestUpdateOrganisation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		e.clock.Advance(time.Hour)

		// Fields left nil keep their values.
		up, err := e.svc.UpdateOrganisation(ctx, e.admin, o.ID, org.OrganisationInput{Name: ptr("Leeds Hospitals"),
			Status: ptr(org.StatusSuspended), AllowedDomains: &[]string{"nhs.net"}, PasswordRecipient: ptr("pw@nhs.net")})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.svc.Organisation(ctx, e.admin, o.ID)
		for _, x := range []*org.Organisation{up, got} {
			if x.ODSCode != "RR8" || x.Name != "Leeds Hospitals" || x.Status != org.StatusSuspended || x.ISALevel != org.ISAReadOnly ||
				x.Routing != org.RoutingSiteAuthoriser || !slices.Equal(x.AllowedDomains, []string{"nhs.net"}) ||
				x.PasswordRecipient != "pw@nhs.net" || !x.CreatedAt.Equal(t0) || !x.UpdatedAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("after update %+v", x)
			}
		}
		evs := events(t, db, audit.Filter{Action: "organisation.update", ObjectID: o.ID})
		want := map[string]string{"name": "Leeds Teaching Hospitals -> Leeds Hospitals", "status": "active -> suspended",
			"allowed_domains": "nhs.net,gov.uk -> nhs.net", "password_recipient": " -> pw@nhs.net"}
		if len(evs) != 1 || len(evs[0].Detail) != len(want) {
			t.Fatalf("update audit %+v", evs)
		}
		for k, v := range want {
			if evs[0].Detail[k] != v {
				t.Fatalf("audit detail %s = %q, want %q", k, evs[0].Detail[k], v)
			}
		}

		// Narrowing the domains may not strand the nominated individual.
		_, err = e.svc.UpdateOrganisation(ctx, e.admin, o.ID, org.OrganisationInput{AllowedDomains: &[]string{"gov.uk"}})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "password_recipient")
		// ...unless the nominated individual is removed at the same time.
		if _, err := e.svc.UpdateOrganisation(ctx, e.admin, o.ID, org.OrganisationInput{AllowedDomains: &[]string{"gov.uk"},
			PasswordRecipient: ptr("")}); err != nil {
			t.Fatal(err)
		}
		// Invalid input is refused whole.
		_, err = e.svc.UpdateOrganisation(ctx, e.admin, o.ID, org.OrganisationInput{Name: ptr("New name"), Routing: ptr("fax")})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "routing")
		if got, _ := e.svc.Organisation(ctx, e.admin, o.ID); got.Name != "Leeds Hospitals" {
			t.Fatalf("part of a refused update was applied: %q", got.Name)
		}
		_, err = e.svc.UpdateOrganisation(ctx, e.admin, "no-such-org", org.OrganisationInput{Name: ptr("X")})
		wantCode(t, err, errs.NotFound)

		if evs := events(t, db, audit.Filter{Action: "organisation.update"}); len(evs) != 2 {
			t.Fatalf("want 2 update events, got %d", len(evs))
		}
		auditCount(t, db)
	})
}

func TestAllowsEmail(t *testing.T) {
	t.Parallel()
	o := &org.Organisation{AllowedDomains: []string{"nhs.net", "leeds.gov.uk"}}
	for email, want := range map[string]bool{
		"a@nhs.net":         true,
		"a@NHS.NET":         true,
		"a@leeds.gov.uk":    true,
		"a@gov.uk":          false,
		"a@mail.nhs.net":    false,
		"a@nhs.net.evil.io": false,
		"a@notnhs.net":      false,
		"nhs.net":           false,
		"":                  false,
	} {
		if got := o.AllowsEmail(email); got != want {
			t.Errorf("AllowsEmail(%q) = %v, want %v", email, got, want)
		}
	}
}

func TestOnlyAdministratorsChangeOrganisationsAndSites(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		s := e.site(t, o.ID, "Ward 1")
		appointed, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "auth@nhs.net", GivenName: "Au", FamilyName: "Thoriser"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AppointServiceDesk(ctx, e.admin, o.ID, org.Appointee{Email: "desk@nhs.net", GivenName: "Ser", FamilyName: "Vice"}); err != nil {
			t.Fatal(err)
		}
		authoriser := e.load(t, appointed.Person.UserID)
		desk, _ := e.users.UserByEmail(ctx, "desk@nhs.net")
		others := map[string]*authz.Principal{
			"back office":     e.person(t, "bo@nhs.net", auth.RoleBackOffice),
			"privacy officer": e.person(t, "po@nhs.net", auth.RolePrivacyOfficer),
			"no role":         e.person(t, "member@nhs.net"),
			"site authoriser": authoriser,
			"service desk":    e.load(t, desk.ID),
		}
		before := auditCount(t, db)
		a := org.Appointee{Email: "new@nhs.net", GivenName: "New", FamilyName: "Person"}
		for name, p := range others {
			t.Run(name, func(t *testing.T) {
				calls := map[string]error{}
				_, calls["CreateOrganisation"] = e.svc.CreateOrganisation(ctx, p, org.OrganisationInput{ODSCode: ptr("RXF"), Name: ptr("X")})
				_, calls["UpdateOrganisation"] = e.svc.UpdateOrganisation(ctx, p, o.ID, org.OrganisationInput{Name: ptr("X")})
				_, calls["CreateSite"] = e.svc.CreateSite(ctx, p, o.ID, org.SiteInput{Name: ptr("X")})
				_, calls["UpdateSite"] = e.svc.UpdateSite(ctx, p, s.ID, org.SiteInput{Name: ptr("X")})
				_, calls["AppointAuthoriser"] = e.svc.AppointAuthoriser(ctx, p, s.ID, a)
				_, calls["AppointServiceDesk"] = e.svc.AppointServiceDesk(ctx, p, o.ID, a)
				calls["RemoveAuthoriser"] = e.svc.RemoveAuthoriser(ctx, p, s.ID, authoriser.UserID)
				calls["RemoveServiceDesk"] = e.svc.RemoveServiceDesk(ctx, p, o.ID, desk.ID)
				for call, err := range calls {
					if errs.CodeOf(err) != errs.Forbidden {
						t.Errorf("%s by %s: %v, want forbidden", call, name, err)
					}
				}
			})
		}
		// Nobody signed in at all.
		_, err = e.svc.CreateOrganisation(ctx, nil, org.OrganisationInput{ODSCode: ptr("RXF"), Name: ptr("X")})
		wantCode(t, err, errs.Unauthenticated)
		_, err = e.svc.AppointAuthoriser(ctx, nil, s.ID, a)
		wantCode(t, err, errs.Unauthenticated)

		if n := count(t, db, "organisations"); n != 1 {
			t.Fatalf("%d organisations", n)
		}
		if got, _ := e.svc.Site(ctx, e.admin, s.ID); got.Name != "Ward 1" {
			t.Fatalf("site changed by a non-administrator: %+v", got)
		}
		if _, err := e.users.UserByEmail(ctx, a.Email); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("a refused appointment created an account: %v", err)
		}
		if n := count(t, db, "site_authorisers") + count(t, db, "service_desk_staff"); n != 2 {
			t.Fatalf("%d appointments, want 2", n)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("refused changes wrote %d audit events", after-before)
		}
	})
}

func TestReadAccess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		leeds := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		york := e.organisation(t, "RCB", "York and Scarborough")
		ward1, ward2 := e.site(t, leeds.ID, "Ward 1"), e.site(t, leeds.ID, "Ward 2")
		yorkSite := e.site(t, york.ID, "Emergency Department")
		ap, err := e.svc.AppointAuthoriser(ctx, e.admin, ward1.ID, org.Appointee{Email: "auth@nhs.net", GivenName: "A", FamilyName: "B"})
		if err != nil {
			t.Fatal(err)
		}
		dp, err := e.svc.AppointServiceDesk(ctx, e.admin, york.ID, org.Appointee{Email: "desk@nhs.net", GivenName: "C", FamilyName: "D"})
		if err != nil {
			t.Fatal(err)
		}
		authoriser, desk := e.load(t, ap.Person.UserID), e.load(t, dp.Person.UserID)
		backOffice := e.person(t, "bo@nhs.net", auth.RoleBackOffice)
		privacy := e.person(t, "po@nhs.net", auth.RolePrivacyOfficer)
		nobody := e.person(t, "nobody@nhs.net")

		ids := func(os []*org.Organisation) []string {
			var out []string
			for _, o := range os {
				out = append(out, o.ODSCode)
			}
			return out
		}
		for _, c := range []struct {
			name string
			p    *authz.Principal
			orgs []string
		}{
			{"admin", e.admin, []string{"RR8", "RCB"}},
			{"back office", backOffice, []string{"RR8", "RCB"}},
			{"privacy officer", privacy, []string{"RR8", "RCB"}},
			{"authoriser", authoriser, []string{"RR8"}},
			{"service desk", desk, []string{"RCB"}},
		} {
			got, err := e.svc.ListOrganisations(ctx, c.p)
			if err != nil || !slices.Equal(ids(got), c.orgs) {
				t.Errorf("%s sees %v (%v), want %v", c.name, ids(got), err, c.orgs)
			}
		}
		_, err = e.svc.ListOrganisations(ctx, nobody)
		wantCode(t, err, errs.Forbidden)
		_, err = e.svc.ListOrganisations(ctx, nil)
		wantCode(t, err, errs.Unauthenticated)

		// The authoriser sees their organisation and their own site only.
		if _, err := e.svc.Organisation(ctx, authoriser, leeds.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Organisation(ctx, authoriser, york.ID)
		wantCode(t, err, errs.Forbidden)
		if _, err := e.svc.Site(ctx, authoriser, ward1.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Site(ctx, authoriser, ward2.ID)
		wantCode(t, err, errs.Forbidden)
		if sites, err := e.svc.Sites(ctx, authoriser, leeds.ID); err != nil || len(sites) != 1 || sites[0].ID != ward1.ID {
			t.Fatalf("authoriser's sites %v, %v", sites, err)
		}
		// The service desk sees every site of its organisation, no other.
		if sites, err := e.svc.Sites(ctx, desk, york.ID); err != nil || len(sites) != 1 || sites[0].ID != yorkSite.ID {
			t.Fatalf("service desk's sites %v, %v", sites, err)
		}
		_, err = e.svc.Site(ctx, desk, ward1.ID)
		wantCode(t, err, errs.Forbidden)
		_, err = e.svc.Sites(ctx, desk, leeds.ID)
		wantCode(t, err, errs.Forbidden)
		_, err = e.svc.Site(ctx, nobody, ward1.ID)
		wantCode(t, err, errs.Forbidden)
		_, err = e.svc.Site(ctx, e.admin, "no-such-site")
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.Authorisers(ctx, desk, ward1)
		wantCode(t, err, errs.Forbidden)
		_, err = e.svc.ServiceDeskStaff(ctx, authoriser, york.ID)
		wantCode(t, err, errs.Forbidden)
		if people, err := e.svc.Authorisers(ctx, authoriser, ward1); err != nil || len(people) != 1 {
			t.Fatalf("authoriser listing own site's authorisers: %v, %v", people, err)
		}
		// A site with its organisation, for whoever may see the site.
		if site, o, err := e.svc.SiteWithOrganisation(ctx, authoriser, ward1.ID); err != nil || site.ID != ward1.ID || o.ID != ward1.OrganisationID {
			t.Fatalf("site with organisation: %+v %+v %v", site, o, err)
		}
		_, _, err = e.svc.SiteWithOrganisation(ctx, desk, ward1.ID)
		wantCode(t, err, errs.Forbidden)
		_, _, err = e.svc.SiteWithOrganisation(ctx, e.admin, "no-such-site")
		wantCode(t, err, errs.NotFound)
	})
}

// TestChangesRollBackWhenTheAuditFails shows that each change and its audit
// event share one transaction: when the event cannot be written, the change
// is not made either.
func TestChangesRollBackWhenTheAuditFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		s := e.site(t, o.ID, "Ward 1")
		if _, err := db.Exec(ctx, `DELETE FROM audit_head`); err != nil { // the next append cannot find the chain head
			t.Fatal(err)
		}
		a := org.Appointee{Email: "new@nhs.net", GivenName: "New", FamilyName: "Person"}
		calls := map[string]error{}
		_, calls["CreateOrganisation"] = e.svc.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: ptr("RCB"), Name: ptr("York")})
		_, calls["UpdateOrganisation"] = e.svc.UpdateOrganisation(ctx, e.admin, o.ID, org.OrganisationInput{Name: ptr("Renamed")})
		_, calls["CreateSite"] = e.svc.CreateSite(ctx, e.admin, o.ID, org.SiteInput{Name: ptr("Ward 2")})
		_, calls["UpdateSite"] = e.svc.UpdateSite(ctx, e.admin, s.ID, org.SiteInput{Name: ptr("Renamed")})
		_, calls["AppointAuthoriser"] = e.svc.AppointAuthoriser(ctx, e.admin, s.ID, a)
		_, calls["AppointServiceDesk"] = e.svc.AppointServiceDesk(ctx, e.admin, o.ID, a)
		for name, err := range calls {
			if err == nil {
				t.Errorf("%s succeeded without its audit event", name)
			}
		}
		if n := count(t, db, "organisations"); n != 1 {
			t.Fatalf("%d organisations", n)
		}
		if n := count(t, db, "sites"); n != 1 {
			t.Fatalf("%d sites", n)
		}
		if got, _ := e.svc.Organisation(ctx, e.admin, o.ID); got.Name != "Leeds Teaching Hospitals" {
			t.Fatalf("organisation renamed without audit: %q", got.Name)
		}
		if got, _ := e.svc.Site(ctx, e.admin, s.ID); got.Name != "Ward 1" {
			t.Fatalf("site renamed without audit: %q", got.Name)
		}
		if _, err := e.users.UserByEmail(ctx, a.Email); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("account created by an appointment that was not audited: %v", err)
		}
		if n := count(t, db, "site_authorisers") + count(t, db, "service_desk_staff"); n != 0 {
			t.Fatalf("%d appointments made without audit", n)
		}
	})
}
