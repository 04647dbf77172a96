package org_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestAppointAuthoriserCreatesNewPerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals", "nhs.net", "leedsth.example.org")
		s := e.site(t, o.ID, "Ward 1")
		users := count(t, db, "users")

		ap, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: " Sam.Lead@LeedsTH.example.org ",
			GivenName: "Sam", FamilyName: "Lead"})
		if err != nil {
			t.Fatal(err)
		}
		if !ap.Created || ap.SetupLink == "" || ap.Person.Email != "sam.lead@leedsth.example.org" || ap.Person.Name != "Sam Lead" ||
			!ap.Person.Since.Equal(t0) || ap.Person.UserID == "" {
			t.Fatalf("appointment %+v", ap)
		}
		if n := count(t, db, "users"); n != users+1 {
			t.Fatalf("%d users, want one more", n)
		}
		// The new account has no password and no global role; the set-up link is for it.
		u, err := e.users.User(ctx, ap.Person.UserID)
		if err != nil || u.Email != ap.Person.Email || len(u.Roles) != 0 || u.Status != auth.StatusActive {
			t.Fatalf("account %+v, %v", u, err)
		}
		if _, _, err := e.users.SignIn(ctx, audit.Who{IP: "10.9.9.9"}, u.Email, ""); errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("new account signs in without a password: %v", err)
		}
		su, err := e.users.SetupUser(ctx, ap.SetupLink)
		if err != nil || su.ID != u.ID {
			t.Fatalf("set-up link is for %+v, %v", su, err)
		}
		if _, err := e.users.CompleteSetup(ctx, audit.Who{}, ap.SetupLink, "a long and private passphrase"); err != nil {
			t.Fatal(err)
		}

		people, err := e.svc.Authorisers(ctx, e.admin, s)
		if err != nil || len(people) != 1 || people[0].UserID != u.ID || people[0].Name != "Sam Lead" {
			t.Fatalf("Authorisers = %+v, %v", people, err)
		}
		p := e.load(t, u.ID)
		if !p.Authorises(s.ID) || !slices.Contains(p.Roles(), "site_authoriser") {
			t.Fatalf("principal %+v", p)
		}

		// Account creation, its set-up link and the appointment are all audited, in one transaction.
		var actions []string
		for _, ev := range events(t, db, audit.Filter{Actor: e.admin.UserID}) {
			actions = append(actions, ev.Action)
		}
		if !slices.Equal(actions[len(actions)-3:], []string{"user.create", "user.setup_link", "site.authoriser.appoint"}) {
			t.Fatalf("audited %v", actions)
		}
		ev := events(t, db, audit.Filter{Action: "site.authoriser.appoint"})
		if len(ev) != 1 || ev[0].ObjectType != "site" || ev[0].ObjectID != s.ID || ev[0].Detail["user_id"] != u.ID ||
			ev[0].Detail["email"] != u.Email {
			t.Fatalf("appointment audit %+v", ev)
		}
		auditCount(t, db)
	})
}

func TestAppointAuthoriserRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals", "nhs.net")
		s := e.site(t, o.ID, "Ward 1")
		existing := e.person(t, "existing@nhs.net")
		if _, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: existing.Email}); err != nil {
			t.Fatal(err)
		}
		users, before := count(t, db, "users"), auditCount(t, db)

		// An address off the organisation's allowed domains.
		_, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "someone@gmail.com", GivenName: "A", FamilyName: "B"})
		if m := fieldMessage(t, wantCode(t, err, errs.Invalid), "email"); !strings.Contains(m, "nhs.net") {
			t.Fatalf("message %q does not name the allowed domains", m)
		}
		// Even for someone who already has an account.
		e.person(t, "outsider@gov.uk")
		_, err = e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "outsider@gov.uk"})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "email")
		users++
		before++
		// Not an address at all.
		_, err = e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "not-an-address", GivenName: "A", FamilyName: "B"})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "email")
		// A new person needs names; the whole appointment is rolled back.
		_, err = e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "nameless@nhs.net"})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "given_name")
		// Already appointed, whatever the case of the address.
		_, err = e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "EXISTING@nhs.net"})
		fieldMessage(t, wantCode(t, err, errs.Conflict), "email")
		// No such site.
		_, err = e.svc.AppointAuthoriser(ctx, e.admin, "no-such-site", org.Appointee{Email: "x@nhs.net", GivenName: "A", FamilyName: "B"})
		wantCode(t, err, errs.NotFound)

		if n := count(t, db, "users"); n != users {
			t.Fatalf("refused appointments created %d accounts", n-users)
		}
		if n := count(t, db, "site_authorisers"); n != 1 {
			t.Fatalf("%d appointments, want 1", n)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("refused appointments wrote %d audit events", after-before)
		}
	})
}

func TestAppointExistingPerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		s1, s2 := e.site(t, o.ID, "Ward 1"), e.site(t, o.ID, "Ward 2")
		u, err := e.users.CreateUser(ctx, system, auth.NewUser{Email: "kim@nhs.net", GivenName: "Kim", FamilyName: "Lee"})
		if err != nil {
			t.Fatal(err)
		}
		users := count(t, db, "users")
		for _, s := range []*org.Site{s2, s1} {
			// Names given for an existing account are ignored: the account keeps its own.
			ap, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "Kim@NHS.net", GivenName: "Other", FamilyName: "Name"})
			if err != nil {
				t.Fatal(err)
			}
			if ap.Created || ap.SetupLink != "" || ap.Person.UserID != u.ID || ap.Person.Name != "Kim Lee" {
				t.Fatalf("appointment %+v", ap)
			}
		}
		if n := count(t, db, "users"); n != users {
			t.Fatal("a second account was created for an existing person")
		}
		if evs := events(t, db, audit.Filter{Action: "user.setup_link"}); len(evs) != 0 {
			t.Fatalf("set-up link issued for an existing account: %+v", evs)
		}

		// AuthorisedSites lists the sites in name order.
		p := e.load(t, u.ID)
		sites, err := e.svc.AuthorisedSites(ctx, p)
		if err != nil || len(sites) != 2 || sites[0].ID != s1.ID || sites[1].ID != s2.ID {
			t.Fatalf("AuthorisedSites = %+v, %v", sites, err)
		}
		if none, err := e.svc.AuthorisedSites(ctx, e.admin); err != nil || len(none) != 0 {
			t.Fatalf("administrator authorises %v, %v", none, err)
		}
	})
}

func TestRemoveAuthoriser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		s, other := e.site(t, o.ID, "Ward 1"), e.site(t, o.ID, "Ward 2")
		ap, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "a@nhs.net", GivenName: "A", FamilyName: "Z"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AppointAuthoriser(ctx, e.admin, other.ID, org.Appointee{Email: "a@nhs.net"}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		b, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "b@nhs.net", GivenName: "B", FamilyName: "Y"})
		if err != nil {
			t.Fatal(err)
		}
		people, _ := e.svc.Authorisers(ctx, e.admin, s)
		if len(people) != 2 || people[0].UserID != b.Person.UserID || !people[1].Since.Equal(t0) || !people[0].Since.Equal(t0.Add(time.Minute)) {
			t.Fatalf("authorisers (by family name) %+v", people)
		}

		if err := e.svc.RemoveAuthoriser(ctx, e.admin, s.ID, ap.Person.UserID); err != nil {
			t.Fatal(err)
		}
		people, _ = e.svc.Authorisers(ctx, e.admin, s)
		if len(people) != 1 || people[0].UserID != b.Person.UserID {
			t.Fatalf("after removal %+v", people)
		}
		// The other appointment and the account remain.
		p := e.load(t, ap.Person.UserID)
		if p.Authorises(s.ID) || !p.Authorises(other.ID) {
			t.Fatalf("principal after removal %+v", p)
		}
		if _, err := e.users.User(ctx, ap.Person.UserID); err != nil {
			t.Fatal(err)
		}
		before := auditCount(t, db)
		wantCode(t, e.svc.RemoveAuthoriser(ctx, e.admin, s.ID, ap.Person.UserID), errs.NotFound)
		wantCode(t, e.svc.RemoveAuthoriser(ctx, e.admin, "no-such-site", b.Person.UserID), errs.NotFound)
		if after := auditCount(t, db); after != before {
			t.Fatal("a refused removal was audited as a change")
		}
		ev := events(t, db, audit.Filter{Action: "site.authoriser.remove"})
		if len(ev) != 1 || ev[0].ObjectID != s.ID || ev[0].Detail["user_id"] != ap.Person.UserID {
			t.Fatalf("removal audit %+v", ev)
		}
	})
}

func TestServiceDesk(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals", "nhs.net")
		other := e.organisation(t, "RCB", "York")

		_, err := e.svc.AppointServiceDesk(ctx, e.admin, o.ID, org.Appointee{Email: "desk@gov.uk", GivenName: "D", FamilyName: "E"})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "email")
		_, err = e.svc.AppointServiceDesk(ctx, e.admin, "no-such-org", org.Appointee{Email: "desk@nhs.net", GivenName: "D", FamilyName: "E"})
		wantCode(t, err, errs.NotFound)

		ap, err := e.svc.AppointServiceDesk(ctx, e.admin, o.ID, org.Appointee{Email: "desk@nhs.net", GivenName: "Desk", FamilyName: "Person"})
		if err != nil {
			t.Fatal(err)
		}
		if !ap.Created || ap.SetupLink == "" {
			t.Fatalf("appointment %+v", ap)
		}
		_, err = e.svc.AppointServiceDesk(ctx, e.admin, o.ID, org.Appointee{Email: "desk@nhs.net"})
		wantCode(t, err, errs.Conflict)
		// The same person may staff another organisation's desk.
		if _, err := e.svc.AppointServiceDesk(ctx, e.admin, other.ID, org.Appointee{Email: "desk@nhs.net"}); err != nil {
			t.Fatal(err)
		}

		p := e.load(t, ap.Person.UserID)
		if !p.StaffsServiceDesk(o.ID) || !p.StaffsServiceDesk(other.ID) || !slices.Contains(p.Roles(), "service_desk") {
			t.Fatalf("principal %+v", p)
		}
		staff, err := e.svc.ServiceDeskStaff(ctx, p, o.ID)
		if err != nil || len(staff) != 1 || staff[0].Email != "desk@nhs.net" || staff[0].Name != "Desk Person" {
			t.Fatalf("ServiceDeskStaff = %+v, %v", staff, err)
		}
		ev := events(t, db, audit.Filter{Action: "organisation.service_desk.appoint"})
		if len(ev) != 2 || ev[0].ObjectType != "organisation" || ev[0].ObjectID != o.ID || ev[0].Detail["user_id"] != p.UserID {
			t.Fatalf("appointment audit %+v", ev)
		}

		if err := e.svc.RemoveServiceDesk(ctx, e.admin, o.ID, p.UserID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.RemoveServiceDesk(ctx, e.admin, o.ID, p.UserID), errs.NotFound)
		if staff, _ := e.svc.ServiceDeskStaff(ctx, e.admin, o.ID); len(staff) != 0 {
			t.Fatalf("still on the desk: %+v", staff)
		}
		if p := e.load(t, p.UserID); p.StaffsServiceDesk(o.ID) || !p.StaffsServiceDesk(other.ID) {
			t.Fatalf("principal after removal %+v", p)
		}
		if ev := events(t, db, audit.Filter{Action: "organisation.service_desk.remove"}); len(ev) != 1 || ev[0].ObjectID != o.ID {
			t.Fatalf("removal audit %+v", ev)
		}
		auditCount(t, db)
	})
}

func TestMembers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		s := e.site(t, o.ID, "Ward 1")
		ap, err := e.svc.AppointAuthoriser(ctx, e.admin, s.ID, org.Appointee{Email: "lead@nhs.net", GivenName: "Lead", FamilyName: "Aaron"})
		if err != nil {
			t.Fatal(err)
		}
		nurse := e.person(t, "nurse@nhs.net")
		leaver := e.person(t, "leaver@nhs.net")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			for i, m := range []struct{ user, title string }{{ap.Person.UserID, "Ward manager"}, {nurse.UserID, "Staff nurse"}, {leaver.UserID, "HCA"}} {
				if err := e.svc.AddMemberTx(ctx, tx, e.admin.Who(), "m"+string(rune('1'+i)), s.ID, m.user, m.title, "nursing"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE memberships SET status = 'deleted' WHERE user_id = ?`, leaver.UserID); err != nil {
			t.Fatal(err)
		}

		authoriser := e.load(t, ap.Person.UserID)
		members, err := e.svc.Members(ctx, authoriser, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 2 {
			t.Fatalf("members %+v, want the two active ones", members)
		}
		if members[0].UserID != ap.Person.UserID || !members[0].Authorise || members[0].JobTitle != "Ward manager" || members[0].Status != "active" {
			t.Fatalf("first member %+v", members[0])
		}
		if members[1].UserID != nurse.UserID || members[1].Authorise || !members[1].Since.Equal(t0) {
			t.Fatalf("second member %+v", members[1])
		}
		_, err = e.svc.Members(ctx, nurse, s)
		wantCode(t, err, errs.Forbidden)
		if ev := events(t, db, audit.Filter{Action: "membership.create", ObjectID: s.ID}); len(ev) != 3 {
			t.Fatalf("membership audit %+v", ev)
		}
		if p := e.load(t, nurse.UserID); !slices.Equal(p.MemberOf, []string{s.ID}) {
			t.Fatalf("nurse member of %v", p.MemberOf)
		}
		if p := e.load(t, leaver.UserID); len(p.MemberOf) != 0 {
			t.Fatalf("leaver still member of %v", p.MemberOf)
		}
	})
}
