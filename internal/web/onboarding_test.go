package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/onboarding"
)

// applicationForm is a complete application form, without an HSCN
// connection: recorded, flagged, not approvable.
func applicationForm() url.Values {
	return url.Values{"name": {"Hillside Hospice"}, "ods_code": {"hh7"}, "organisation_type": {"hospice"}, "size_band": {"B"},
		"contact_name": {"Ann Other"}, "contact_email": {"ann.other@nhs.net"}, "provides_direct_care": {"yes"},
		"dspt_status": {"standards_met"}, "individual_email_accounts": {"yes"}, "email_domains": {"nhs.net\r\n"},
		"isa_level": {"write"}, "routing": {"service_desk"}, "notes": {"Twelve beds."}}
}

func decisionForm(decision, day, month, year, minutes string) url.Values {
	return url.Values{"decision": {decision}, "meeting_day": {day}, "meeting_month": {month}, "meeting_year": {year}, "minutes": {minutes}}
}

func TestOnboardingJourney(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn("admin@nhs.net")
		if p := b.get("/admin"); !p.has(`main a[href="/admin/onboarding"]`) {
			t.Fatal("the administration page has no link to partner onboarding")
		}
		p := b.get("/admin/onboarding/new")
		if p.status != http.StatusOK || p.doc.Find("#size_band option").Length() != 7 {
			t.Fatalf("new application form: status %d, %d size-band options", p.status, p.doc.Find("#size_band option").Length())
		}

		// Bad input is shown back with what was typed.
		bad := applicationForm()
		bad.Set("name", "")
		p = b.post("/admin/onboarding", bad)
		if p.status != http.StatusBadRequest || !p.has("#error-summary") || !p.has("#name-error") {
			t.Fatalf("application without a name: status %d", p.status)
		}
		if v, _ := p.doc.Find("#ods_code").Attr("value"); v != "hh7" {
			t.Errorf("the ODS code typed was not kept: %q", v)
		}
		if !p.has("#hscn_connected:not([checked])") || !p.has("#provides_direct_care[checked]") {
			t.Error("the prerequisite boxes were not kept")
		}

		// Missing a prerequisite: recorded, flagged.
		p = b.post("/admin/onboarding", applicationForm())
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/admin/onboarding/") {
			t.Fatalf("application: status %d %q %s", p.status, p.location(), p.text("#error-summary"))
		}
		appURL := p.location()
		p = b.get(appURL)
		if !p.has("#unmet") || !strings.Contains(p.text("#unmet"), "HSCN") || !strings.Contains(p.text("#state"), "Submitted") {
			t.Fatalf("flagged application page: unmet %q, state %q", p.text("#unmet"), p.text("#state"))
		}
		if got := p.text("#implementation"); got != "£1,500.00" {
			t.Errorf("implementation cost %q, want £1,500.00 (band B)", got)
		}

		// Approval is refused while the prerequisite is unmet; bad decisions
		// are refused with the field named.
		p = b.post(appURL+"/decision", decisionForm("approve", "27", "10", "2026", "Agreed."))
		if p.status != http.StatusConflict || !strings.Contains(p.text("#error-summary"), "prerequisite is unmet") {
			t.Fatalf("approval with unmet prerequisite: status %d %q", p.status, p.text("#error-summary"))
		}
		if p := b.post(appURL+"/decision", decisionForm("", "27", "10", "2026", "Agreed.")); p.status != http.StatusBadRequest || !p.has("#decision-error") {
			t.Errorf("decision left out: status %d", p.status)
		}
		if p := b.post(appURL+"/decision", decisionForm("reject", "3", "12", "2026", "Agreed.")); p.status != http.StatusBadRequest || !p.has("#meeting_date-error") {
			t.Errorf("meeting in the future: status %d", p.status)
		}
		if p := b.post(appURL+"/decision", decisionForm("reject", "xx", "10", "2026", "Agreed.")); p.status != http.StatusBadRequest || !p.has("#meeting_date-error") {
			t.Errorf("meeting date not a date: status %d", p.status)
		}

		// Corrected, approved, live.
		if p := b.get(appURL + "/edit"); p.status != http.StatusOK || !p.has("#provides_direct_care[checked]") {
			t.Fatalf("edit form: status %d", p.status)
		}
		fixed := applicationForm()
		fixed.Set("hscn_connected", "yes")
		if p := b.post(appURL, fixed); p.status != http.StatusSeeOther {
			t.Fatalf("correction: status %d %s", p.status, p.text("#error-summary"))
		}
		if p := b.get(appURL); p.has("#unmet") {
			t.Fatal("still flagged after the correction")
		}
		if p := b.post(appURL+"/decision", decisionForm("approve", "27", "10", "2026", "Item 3: approved.")); p.status != http.StatusSeeOther {
			t.Fatalf("approval: status %d %s", p.status, p.text("#error-summary"))
		}
		p = b.get(appURL)
		if !strings.Contains(p.text("#state"), "Approved") || !p.has("#go-live") || !strings.Contains(p.text("#decision-record"), "2026-10-27") {
			t.Fatalf("approved page: state %q, decision %q", p.text("#state"), p.text("#decision-record"))
		}
		for range 2 { // a second go-live (a double click) creates nothing more
			if p := b.post(appURL+"/go-live", nil); p.status != http.StatusSeeOther {
				t.Fatalf("go-live: status %d %s", p.status, p.text("#error-summary"))
			}
		}
		p = b.get(appURL)
		orgLink, _ := p.doc.Find(`#live a`).Attr("href")
		if !strings.HasPrefix(orgLink, "/admin/organisations/") {
			t.Fatalf("live page links to %q", orgLink)
		}
		if p := b.get(orgLink); p.status != http.StatusOK || p.text("main h1") != "Hillside Hospice" {
			t.Fatalf("organisation page: %d %q", p.status, p.text("main h1"))
		}
		var n int
		if err := e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM organisations WHERE ods_code = 'HH7'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d organisations HH7 (%v), want 1", n, err)
		}
		if p := b.post(appURL+"/decision", decisionForm("reject", "27", "10", "2026", "Changed our minds.")); p.status != http.StatusConflict ||
			!strings.Contains(p.text("#error-summary"), "already live") {
			t.Errorf("decision on a live application: status %d %q", p.status, p.text("#error-summary"))
		}

		// The programme team's summary.
		p = b.get("/admin/onboarding")
		if p.doc.Find("#applications tbody tr").Length() != 1 || p.text("#live-implementation") != "£1,500.00" || !strings.Contains(p.text("#live-annual"), "£750.00") {
			t.Fatalf("onboarding page: %d rows, implementation %q, annual %q", p.doc.Find("#applications tbody tr").Length(),
				p.text("#live-implementation"), p.text("#live-annual"))
		}
		for _, action := range []string{"onboarding.submit", "onboarding.update", "onboarding.approve", "onboarding.go_live"} {
			if n := len(events(t, e, audit.Filter{Action: action})); n != 1 {
				t.Errorf("%d %s events, want 1", n, action)
			}
		}
	})
}

func TestSizeBandsPage(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn("admin@nhs.net")
		p := b.get("/admin/size-bands")
		if p.status != http.StatusOK || p.doc.Find("#size-bands tbody tr").Length() != 7 {
			t.Fatalf("size bands: status %d, %d rows (want 6 and an empty one)", p.status, p.doc.Find("#size-bands tbody tr").Length())
		}
		// The form as shown, with band B's contribution changed.
		form := url.Values{}
		for _, name := range []string{"band", "label", "up_to_staff", "implementation", "annual"} {
			p.doc.Find(`#size-bands input[name="` + name + `"]`).Each(func(_ int, s *goquery.Selection) {
				v, _ := s.Attr("value")
				form.Add(name, v)
			})
		}
		form["annual"][1] = "800"
		if p := b.post("/admin/size-bands", form); p.status != http.StatusSeeOther {
			t.Fatalf("save: status %d %s", p.status, p.text("#error-summary"))
		}
		if v, _ := b.get("/admin/size-bands").doc.Find("#annual-1").Attr("value"); v != "800.00" {
			t.Fatalf("band B's annual contribution shows %q after saving 800", v)
		}
		// An amount that is not money is named beside its box.
		form["annual"][1] = "ten pounds"
		if p := b.post("/admin/size-bands", form); p.status != http.StatusBadRequest || !p.has("#annual-1-error") {
			t.Errorf("bad amount: status %d", p.status)
		}
		form["annual"][1] = "800"
		// A band an application is in cannot be removed.
		if _, err := e.app.Onboarding.Submit(context.Background(), adminPrincipal(t, e), onboarding.ApplicationInput{
			Name: "Small Practice", ODSCode: "Y01234", OrganisationType: "gp_practice", SizeBand: "B", ContactName: "Ann",
			ContactEmail: "ann@nhs.net", DSPTStatus: "standards_met", EmailDomains: []string{"nhs.net"}}); err != nil {
			t.Fatal(err)
		}
		form.Set("remove", "B")
		if p := b.post("/admin/size-bands", form); p.status != http.StatusConflict || !strings.Contains(p.text("#error-summary"), "Band B cannot be removed") {
			t.Errorf("removing a band in use: status %d %q", p.status, p.text("#error-summary"))
		}
		if n := len(events(t, e, audit.Filter{Action: "size_bands.update"})); n != 1 {
			t.Errorf("%d size_bands.update events, want 1", n)
		}
	})
}

func TestSuspensionBanner(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.user("member@nhs.net")
		e.user("backoffice@nhs.net", auth.RoleBackOffice)
		admin, member, bo, anon := e.browser(), e.browser(), e.browser(), e.browser()
		admin.signIn("admin@nhs.net")
		member.signIn("member@nhs.net")
		bo.signIn("backoffice@nhs.net")
		if member.get("/account").has("#suspension-banner") {
			t.Fatal("banner shown before suspending")
		}
		if p := admin.post("/admin/suspension", url.Values{"suspended": {"yes"}, "message": {" "}}); p.status != http.StatusBadRequest || !p.has("#message-error") {
			t.Fatalf("suspension without a message: status %d", p.status)
		}
		const msg = "New access requests are paused while the ICB takes over from the CCG."
		if p := admin.post("/admin/suspension", url.Values{"suspended": {"yes"}, "message": {msg}}); p.status != http.StatusSeeOther {
			t.Fatalf("suspend: status %d %s", p.status, p.text("#error-summary"))
		}
		for who, p := range map[string]*page{"member": member.get("/account"), "anonymous": anon.get("/"), "admin": admin.get("/admin/suspension")} {
			if !strings.Contains(p.text("#suspension-banner"), msg) {
				t.Errorf("%s: no banner with the message (%q)", who, p.text("#suspension-banner"))
			}
		}
		if !admin.get("/admin/suspension").has("#suspended[checked]") {
			t.Error("the form does not show the suspension as on")
		}
		// Others may not change it; nothing changes when they try.
		for who, br := range map[string]*browser{"member": member, "back office": bo} {
			if p := br.post("/admin/suspension", url.Values{"suspended": {"no"}}); p.status != http.StatusForbidden {
				t.Errorf("%s turned the suspension off: status %d", who, p.status)
			}
			for _, path := range []string{"/admin/onboarding", "/admin/size-bands", "/admin/suspension"} {
				if p := br.get(path); p.status != http.StatusForbidden {
					t.Errorf("%s GET %s: status %d, want 403", who, path, p.status)
				}
			}
		}
		if on, m, _ := onboarding.Suspension(context.Background(), e.app.DB); !on || m != msg {
			t.Fatalf("suspension changed by refused requests: %v %q", on, m)
		}
		if p := admin.post("/admin/suspension", url.Values{"suspended": {"no"}}); p.status != http.StatusSeeOther {
			t.Fatalf("resume: status %d", p.status)
		}
		if member.get("/account").has("#suspension-banner") {
			t.Error("banner still shown after resuming")
		}
		if len(events(t, e, audit.Filter{Action: "requests.suspend"})) != 1 || len(events(t, e, audit.Filter{Action: "requests.resume"})) != 1 {
			t.Error("suspension changes not audited once each")
		}
	})
}

func adminPrincipal(t *testing.T, e *env) *authz.Principal {
	t.Helper()
	p, err := authz.Load(context.Background(), e.app.DB, e.admin)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
