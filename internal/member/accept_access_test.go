package member_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/training"
)

// The access a person needs at a site they join with an account they
// already have (a member of another site, a returning leaver) is asked of
// the back office when they accept, if their kept training meets the gate.

// gateWorld adds what these tests need to the world: one mandatory module
// assigned to everyone, the back office, and Northgate's (service-desk
// routed) authoriser of the Emergency Department and its service desk.
type gateWorld struct {
	*world
	module              string
	backOffice, edLead  *authz.Principal
	northgateDesk       *authz.Principal
	riversideAuthoriser *authz.Principal
}

func newGateWorld(t *testing.T, w *world) *gateWorld {
	g := &gateWorld{world: w, riversideAuthoriser: w.authoriser}
	g.module = g.mandatoryModule("Using the record", "Only for direct care.")
	g.backOffice = w.person("bo@nhs.net", auth.RoleBackOffice)
	g.edLead = w.appoint(w.emergency, "eve.lead@nhs.net")
	if _, err := w.orgs.AppointServiceDesk(w.ctx, w.admin, w.northgate.ID, org.Appointee{Email: "desk@nhs.net", GivenName: "Desk", FamilyName: "Staff"}); err != nil {
		t.Fatal(err)
	}
	u, err := w.users.UserByEmail(w.ctx, "desk@nhs.net")
	if err != nil {
		t.Fatal(err)
	}
	g.northgateDesk = w.principal(u.ID)
	return g
}

// deactivatedMember is a member of Riverside's nursing team who trained,
// got a record account, and was deactivated (maternity leave) with the
// deactivation completed by the back office.
func (g *gateWorld) deactivatedMember(email string) *member.Member {
	g.t.Helper()
	m := g.join(g.riversideAuthoriser, g.nursing, email)
	g.complete(g.train(m.UserID).RequestID)
	out, err := g.svc.Deactivate(g.ctx, g.at(g.riversideAuthoriser, g.nursing.ID), m.ID, "maternity_leave", "")
	if err != nil {
		g.t.Fatal(err)
	}
	g.complete(out.RequestID)
	return m
}

// mandatoryModule publishes a one-page module assigned to everyone and
// returns its id.
func (g *gateWorld) mandatoryModule(title, body string) string {
	g.t.Helper()
	m, err := g.tr.CreateModule(g.ctx, g.admin, training.Content{Title: title, Summary: title,
		Pages: []training.PageInput{{Title: title, Body: body}}}, training.SettingsInput{})
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.tr.Publish(g.ctx, g.admin, m.ID); err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.tr.AddRule(g.ctx, g.admin, training.RuleInput{ModuleID: m.ID}); err != nil {
		g.t.Fatal(err)
	}
	return m.ID
}

func eachGate(t *testing.T, fn func(t *testing.T, g *gateWorld)) {
	each(t, func(t *testing.T, w *world) { fn(t, newGateWorld(t, w)) })
}

// train completes the module as the person; it returns what the gate did.
func (g *gateWorld) train(userID string) *training.Gate {
	g.t.Helper()
	pr, err := g.tr.CompletePage(g.ctx, g.principal(userID), g.module, 1)
	if err != nil {
		g.t.Fatal(err)
	}
	return pr.Gate
}

// rejoin invites someone who has an account to a site and accepts for them.
func (g *gateWorld) rejoin(by *authz.Principal, site *org.Site, email string) *member.Acceptance {
	g.t.Helper()
	g.clock.Advance(time.Hour)
	g.invite(by, site, email)
	a, err := g.svc.Accept(g.ctx, whoAny, g.link(email), "", "")
	if err != nil {
		g.t.Fatalf("accept at %s: %v", site.Name, err)
	}
	if a.NewAccount {
		g.t.Fatalf("%s joined %s with a new account", email, site.Name)
	}
	return a
}

// complete validates a request where it waits for its service desk, then
// completes it as the back office.
func (g *gateWorld) complete(id string) *access.Request {
	g.t.Helper()
	if r := g.request(id); r.State == access.StateSubmitted {
		if _, err := g.acc.Validate(g.ctx, g.northgateDesk, id, ""); err != nil {
			g.t.Fatalf("validate %s: %v", r.Ref, err)
		}
	}
	r, err := g.acc.Complete(g.ctx, g.backOffice, id, "Done")
	if err != nil {
		g.t.Fatalf("complete: %v", err)
	}
	return r
}

func (g *gateWorld) account(userID string) *access.RecordAccount {
	g.t.Helper()
	a, err := g.acc.Account(g.ctx, userID)
	if err != nil {
		g.t.Fatal(err)
	}
	return a
}

// requests counts the requests about a person, of any state.
func (g *gateWorld) requests(userID string) int {
	return g.count(`SELECT COUNT(*) FROM access_requests WHERE subject_user_id = ?`, userID)
}

// sweep runs the training sweep (which retries the gate hourly) and returns
// how many requests it raised.
func (g *gateWorld) sweep() int {
	g.t.Helper()
	res, err := g.tr.SweepOnce(g.ctx, g.clock.Now())
	if err != nil {
		g.t.Fatal(err)
	}
	return res.Requests
}

// A member of a Riverside site with an active record account joins
// Northgate's Emergency Department: new access, a new-user request for
// Northgate, is raised on acceptance, waits for Northgate's service desk,
// and once completed brings the same account (same user name, no new
// password) to Northgate. Nothing is raised twice, and Riverside can no
// longer end the access it no longer holds.
func TestAcceptAtAnotherOrganisationAsksForNewAccess(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.join(g.riversideAuthoriser, g.nursing, "nina.new@nhs.net")
		gate := g.train(m.UserID)
		if gate == nil || !gate.Raised {
			t.Fatalf("training gate %+v", gate)
		}
		g.complete(gate.RequestID)
		before := g.account(m.UserID)
		if before.Status != access.AccountActive || before.OrganisationID != g.riverside.ID {
			t.Fatalf("first account %+v", before)
		}

		a := g.rejoin(g.edLead, g.emergency, "nina.new@nhs.net")
		if a.RequestRef == "" || !strings.Contains(a.Message, a.RequestRef) || !strings.Contains(a.Message, "user name and password stay the same") {
			t.Fatalf("acceptance %+v", a)
		}
		r := g.request(a.RequestID)
		if r.Type != access.TypeNewUser || r.OrganisationID != g.northgate.ID || r.SiteID != g.emergency.ID || r.SubjectUserID != m.UserID ||
			r.Role != access.RoleCareProfessional || !strings.Contains(r.Notes, "New access") {
			t.Fatalf("new access request %+v", r)
		}
		// Northgate's service desk validates its requests: it waits for them.
		if r.State != access.StateSubmitted {
			t.Fatalf("routed to %s, want submitted (Northgate's service desk validates)", r.State)
		}
		// Audited with the acceptance: the gate's event names the request.
		if n := g.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'training.gate' AND object_id = ? AND detail LIKE ?`,
			m.UserID, "%"+r.Ref+"%"); n != 1 {
			t.Fatalf("%d gate events for %s", n, r.Ref)
		}
		if n := g.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'access_request.submit' AND object_id = ?`, r.ID); n != 1 {
			t.Fatalf("%d submit events", n)
		}
		// Never a duplicate: the hourly retry and a second look find it open.
		if n := g.sweep(); n != 0 || g.requests(m.UserID) != 2 {
			t.Fatalf("sweep raised %d; %d requests", n, g.requests(m.UserID))
		}

		done := g.complete(r.ID)
		after := g.account(m.UserID)
		if done.State != access.StateCompleted || after.Status != access.AccountActive || after.OrganisationID != g.northgate.ID ||
			after.Username != before.Username || after.ID != before.ID {
			t.Fatalf("after new access: request %s, account %+v (was %+v)", done.State, after, before)
		}
		if n := g.count(`SELECT COUNT(*) FROM outbox WHERE kind = 'credentials_password' AND related_id = ?`, r.ID); n != 0 {
			t.Fatalf("%d passwords sent for new access", n)
		}
		if n := g.count(`SELECT COUNT(*) FROM outbox WHERE kind = 'access_changed' AND related_id = ? AND to_addr = 'nina.new@nhs.net' AND text_body LIKE ?`,
			r.ID, "%"+before.Username+"%"); n != 1 {
			t.Fatalf("%d notices of the new access naming the user name", n)
		}
		// Both organisations are now granted: nothing more to ask.
		if n := g.sweep(); n != 0 {
			t.Fatalf("sweep raised %d after the grant", n)
		}
		// Leaving the Riverside site does not end the access Northgate holds.
		out, err := g.svc.Remove(g.ctx, g.at(g.riversideAuthoriser, g.nursing.ID), m.ID, "2026-11-30", "")
		if err != nil || out.RequestID != "" || !strings.Contains(out.Message, "held for another organisation") {
			t.Fatalf("remove at Riverside %+v %v", out, err)
		}
		if a := g.account(m.UserID); a.Status != access.AccountActive {
			t.Fatalf("account %s after leaving Riverside", a.Status)
		}
		// Nor can Riverside's staff ask for its deletion.
		_, err = g.acc.Raise(g.ctx, g.riversideAuthoriser, access.Input{Type: access.TypeDeletion, SiteID: g.nursing.ID, Email: m.Email,
			GivenName: m.GivenName, FamilyName: m.FamilyName})
		if err == nil || !strings.Contains(err.Error(), "held for another organisation") {
			t.Fatalf("deletion by Riverside: %v", err)
		}
	})
}

// Someone without a record account whose request at their first site is
// still open joins another organisation's site: nothing is raised twice
// while it is open; once it is completed, the hourly retry asks for new
// access at the second.
func TestAcceptWhileARequestIsOpenAsksLater(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.join(g.riversideAuthoriser, g.nursing, "nina.new@nhs.net")
		first := g.train(m.UserID)
		a := g.rejoin(g.edLead, g.emergency, "nina.new@nhs.net")
		if a.RequestRef != "" || !strings.Contains(a.Message, "already an open access request") || g.requests(m.UserID) != 1 {
			t.Fatalf("acceptance %+v, %d requests", a, g.requests(m.UserID))
		}
		if n := g.sweep(); n != 0 {
			t.Fatalf("sweep raised %d while a request is open", n)
		}
		g.complete(first.RequestID)
		if n := g.sweep(); n != 1 {
			t.Fatalf("sweep raised %d after the first request completed", n)
		}
		var id string
		if err := g.db.QueryRow(g.ctx, `SELECT id FROM access_requests WHERE subject_user_id = ? AND organisation_id = ?`, m.UserID, g.northgate.ID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if r := g.request(id); r.Type != access.TypeNewUser || r.SiteID != g.emergency.ID || !strings.Contains(r.Notes, "New access") {
			t.Fatalf("later request %+v", r)
		}
		if n := g.sweep(); n != 0 {
			t.Fatalf("second sweep raised %d", n)
		}
	})
}

// A first request that was rejected is not raised again behind the
// authoriser's back, but the site of another organisation the person has
// joined since still gets one.
func TestAcceptAfterARejectedRequestAsksForTheNewSite(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.join(g.riversideAuthoriser, g.nursing, "nina.new@nhs.net")
		first := g.train(m.UserID)
		if _, err := g.acc.Reject(g.ctx, g.backOffice, first.RequestID, "Not for this post"); err != nil {
			t.Fatal(err)
		}
		a := g.rejoin(g.edLead, g.emergency, "nina.new@nhs.net")
		r := g.request(a.RequestID)
		if r.Type != access.TypeNewUser || r.OrganisationID != g.northgate.ID || r.SiteID != g.emergency.ID {
			t.Fatalf("request %+v", r)
		}
	})
}

// A returning member whose record account is deactivated joins a site (of
// their organisation or another): a reactivation request is raised for it,
// with no retraining, and its completion reactivates the same account there.
// A member whose account a rule deactivated while they stayed gets nothing
// automatically: that is their authoriser's reactivation.
func TestReturningMemberWithADeactivatedAccountIsReactivated(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.deactivatedMember("nina.new@nhs.net")
		if a := g.account(m.UserID); a.Status != access.AccountDeactivated {
			t.Fatalf("account %s", a.Status)
		}
		completions := g.count(`SELECT COUNT(*) FROM training_completions WHERE user_id = ?`, m.UserID)

		a := g.rejoin(g.other, g.mentalHealth, "nina.new@nhs.net")
		r := g.request(a.RequestID)
		if r.Type != access.TypeReactivation || r.SiteID != g.mentalHealth.ID || r.OrganisationID != g.riverside.ID ||
			!strings.Contains(r.Notes, "no retraining") || !strings.Contains(a.Message, "training is kept") {
			t.Fatalf("reactivation %+v; %q", r, a.Message)
		}
		// Riverside's authorisers validate: the back office has it at once.
		if r.State != access.StateValidated {
			t.Fatalf("routed to %s", r.State)
		}
		if n := g.count(`SELECT COUNT(*) FROM training_completions WHERE user_id = ?`, m.UserID); n != completions {
			t.Fatalf("%d completions, had %d", n, completions)
		}
		if n := g.count(`SELECT COUNT(*) FROM training_attempts WHERE user_id = ? AND state = 'open'`, m.UserID); n != 0 {
			t.Fatalf("%d attempts opened: retraining", n)
		}
		g.complete(r.ID)
		if acct := g.account(m.UserID); acct.Status != access.AccountActive || acct.OrganisationID != g.riverside.ID {
			t.Fatalf("account after reactivation %+v", acct)
		}

		// The inactivity rule deactivates the account while she stays.
		g.clock.Advance(91 * 24 * time.Hour)
		if _, err := g.db.Exec(g.ctx, `UPDATE record_accounts SET status = 'deactivated', status_reason = 'inactivity', updated_at = ?, deactivated_at = ? WHERE user_id = ?`,
			g.clock.Now().UnixMicro(), g.clock.Now().UnixMicro(), m.UserID); err != nil {
			t.Fatal(err)
		}
		before := g.requests(m.UserID)
		if n := g.sweep(); n != 0 || g.requests(m.UserID) != before {
			t.Fatalf("sweep raised %d for a member deactivated by a rule", n)
		}

		// Joining another organisation's site then asks to reactivate the
		// account there, with the role that site chose.
		g.clock.Advance(time.Hour)
		g.invite(g.edLead, g.emergency, "nina.new@nhs.net")
		in := input("nina.new@nhs.net")
		in.RecordRole = access.RoleAdministrator
		if _, err := g.svc.UpdateInvitation(g.ctx, g.at(g.edLead, g.emergency.ID), g.pendingInvitation(g.emergency, "nina.new@nhs.net"), in); err != nil {
			t.Fatal(err)
		}
		a, err := g.svc.Accept(g.ctx, whoAny, g.link("nina.new@nhs.net"), "", "")
		if err != nil {
			t.Fatal(err)
		}
		r = g.request(a.RequestID)
		if r.Type != access.TypeReactivation || r.OrganisationID != g.northgate.ID || r.State != access.StateSubmitted || r.Role != access.RoleAdministrator {
			t.Fatalf("reactivation at Northgate %+v", r)
		}
		g.complete(r.ID)
		if acct := g.account(m.UserID); acct.Status != access.AccountActive || acct.OrganisationID != g.northgate.ID || acct.Role != access.RoleAdministrator {
			t.Fatalf("account after reactivation at Northgate %+v", acct)
		}
	})
}

// pendingInvitation is the id of the person's pending invitation to a site.
func (g *gateWorld) pendingInvitation(site *org.Site, email string) string {
	g.t.Helper()
	var id string
	if err := g.db.QueryRow(g.ctx, `SELECT id FROM invitations WHERE site_id = ? AND email = ? AND status = 'pending'`, site.ID, email).Scan(&id); err != nil {
		g.t.Fatal(err)
	}
	return id
}

// A leaver whose record account was deleted comes back at another
// organisation's site: a new-user request for that organisation, whose
// completion brings back the same account (same user name), without
// retraining.
func TestReturningLeaverAtAnotherOrganisation(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.join(g.riversideAuthoriser, g.nursing, "nina.new@nhs.net")
		g.complete(g.train(m.UserID).RequestID)
		first := g.account(m.UserID)
		out, err := g.svc.Remove(g.ctx, g.at(g.riversideAuthoriser, g.nursing.ID), m.ID, "2026-11-30", "")
		if err != nil {
			t.Fatal(err)
		}
		g.complete(out.RequestID)

		a := g.rejoin(g.edLead, g.emergency, "nina.new@nhs.net")
		r := g.request(a.RequestID)
		if r.Type != access.TypeNewUser || r.OrganisationID != g.northgate.ID || r.SiteID != g.emergency.ID || r.State != access.StateSubmitted ||
			strings.Contains(r.Notes, "New access") {
			t.Fatalf("request for the returning leaver %+v", r)
		}
		g.complete(r.ID)
		if acct := g.account(m.UserID); acct.Status != access.AccountActive || acct.OrganisationID != g.northgate.ID || acct.Username != first.Username {
			t.Fatalf("account %+v, was %+v", acct, first)
		}
		if n := g.count(`SELECT COUNT(*) FROM training_attempts WHERE user_id = ?`, m.UserID); n != 1 {
			t.Fatalf("%d training attempts: retraining", n)
		}
	})
}

// Joining another site of the organisation that already holds the
// person's record account asks for nothing: their access covers it.
func TestAcceptAtAnotherSiteOfTheSameOrganisationAsksNothing(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.join(g.riversideAuthoriser, g.nursing, "nina.new@nhs.net")
		g.complete(g.train(m.UserID).RequestID)
		a := g.rejoin(g.other, g.mentalHealth, "nina.new@nhs.net")
		if a.RequestID != "" || a.Message != "" || g.requests(m.UserID) != 1 || g.sweep() != 0 {
			t.Fatalf("acceptance %+v; %d requests", a, g.requests(m.UserID))
		}
	})
}

// When a record account was deactivated is kept apart from its other
// changes: someone who joins a site after the deactivation is asked a
// reactivation for, even when the deactivated account has changed since
// (here it took the new site's finishing date), which the gate once took
// for the moment of deactivation.
func TestJoiningAfterADeactivationCountsFromTheDeactivation(t *testing.T) {
	eachGate(t, func(t *testing.T, g *gateWorld) {
		m := g.deactivatedMember("nina.new@nhs.net")

		// A second mandatory module, so that she is not trained when she
		// comes back and nothing is raised at once.
		mod := g.mandatoryModule("Confidentiality", "Share only for care.")
		a := g.rejoin(g.other, g.mentalHealth, "nina.new@nhs.net")
		if a.RequestID != "" {
			t.Fatalf("raised %s at acceptance with training due", a.RequestRef)
		}
		var membership string
		if err := g.db.QueryRow(g.ctx, `SELECT id FROM memberships WHERE user_id = ? AND site_id = ?`, m.UserID, g.mentalHealth.ID).Scan(&membership); err != nil {
			t.Fatal(err)
		}
		g.clock.Advance(time.Hour)
		finish := g.clock.Now().AddDate(0, 6, 0).Format(time.DateOnly)
		if _, err := g.svc.UpdateMember(g.ctx, g.at(g.other, g.mentalHealth.ID), membership, member.MemberEdit{FinishingDate: finish}); err != nil {
			t.Fatal(err)
		}
		if acct := g.account(m.UserID); acct.Status != access.AccountDeactivated || acct.FinishingDate != finish {
			t.Fatalf("account %+v", acct)
		}

		g.clock.Advance(time.Hour)
		pr, err := g.tr.CompletePage(g.ctx, g.principal(m.UserID), mod, 1)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Gate == nil || pr.Gate.RequestID == "" {
			t.Fatalf("training complete, the gate raised nothing: %+v", pr.Gate)
		}
		if r := g.request(pr.Gate.RequestID); r.Type != access.TypeReactivation || r.SiteID != g.mentalHealth.ID {
			t.Fatalf("request %+v", r)
		}
	})
}
