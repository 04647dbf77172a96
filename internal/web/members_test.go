package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/org"
)

var invitationLink = regexp.MustCompile(`/invitations/([A-Za-z0-9_-]+)`)

// latestLink returns the token in the newest invitation e-mail to an address.
func (e *env) latestLink(email string) string {
	e.t.Helper()
	var body string
	if err := e.app.DB.QueryRow(context.Background(), `SELECT text_body FROM outbox WHERE to_addr = ? AND kind = 'invitation'
		ORDER BY created_at DESC, id DESC LIMIT 1`, email).Scan(&body); err != nil {
		e.t.Fatalf("no invitation to %s: %v", email, err)
	}
	m := invitationLink.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no link in %q", body)
	}
	return m[1]
}

// upload posts a file as the intake form does.
func (b *browser) upload(path, name string, data []byte, extra url.Values) *page {
	b.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", b.csrf())
	for k, vs := range extra {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.e.srv.URL)
	return b.do(req)
}

type portalWorld struct {
	site, otherSite *org.Site
	authoriser      *browser
	other           *browser
}

func (e *env) portalWorld() *portalWorld {
	e.t.Helper()
	ctx := context.Background()
	p, err := authz.Load(ctx, e.app.DB, e.admin)
	if err != nil {
		e.t.Fatal(err)
	}
	ods, name, routing, d := "RY4", "Riverside Community Health", org.RoutingSiteAuthoriser, []string{"nhs.net"}
	o, err := e.app.Orgs.CreateOrganisation(ctx, p, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing, AllowedDomains: &d})
	if err != nil {
		e.t.Fatal(err)
	}
	w := &portalWorld{}
	for i, sn := range []string{"District Nursing North", "Community Mental Health Team"} {
		s, err := e.app.Orgs.CreateSite(ctx, p, o.ID, org.SiteInput{Name: &sn})
		if err != nil {
			e.t.Fatal(err)
		}
		email := []string{"sam.lead@nhs.net", "olu.other@nhs.net"}[i]
		e.user(email)
		if _, err := e.app.Orgs.AppointAuthoriser(ctx, p, s.ID, org.Appointee{Email: email}); err != nil {
			e.t.Fatal(err)
		}
		b := e.browser()
		b.signIn(email)
		if i == 0 {
			w.site, w.authoriser = s, b
		} else {
			w.otherSite, w.other = s, b
		}
	}
	return w
}

func invitationForm(email string) url.Values {
	return url.Values{"given_name": {"Nina"}, "family_name": {"Newman"}, "email": {email}, "phone": {"0113 496 0000"},
		"job_title": {"District Nurse"}, "job_category": {"Nursing and midwifery"}, "record_role": {"care_professional"}, "ig_confirmed": {"yes"}}
}

func TestAuthoriserPortal(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		w := e.portalWorld()
		siteURL := "/sites/" + w.site.ID
		if p := w.authoriser.get(siteURL); p.status != http.StatusOK || !p.has("#invite-new") || !p.has("#invitation-history") {
			t.Fatalf("site page %d", p.status)
		}
		// Bad input is shown in the form, with what was typed kept.
		bad := invitationForm("nina@gmail.com")
		p := w.authoriser.post(siteURL+"/invitations", bad)
		if p.status != http.StatusUnprocessableEntity && p.status != http.StatusBadRequest || !strings.Contains(p.text("#error-summary"), "allowed domains") {
			t.Fatalf("bad invitation: %d %s", p.status, p.text("#error-summary"))
		}
		if v, _ := p.doc.Find("#given_name").Attr("value"); v != "Nina" {
			t.Fatalf("typed forename lost: %q", v)
		}
		p = w.authoriser.post(siteURL+"/invitations", invitationForm("nina.new@nhs.net"))
		if p.status != http.StatusSeeOther || p.location() != siteURL {
			t.Fatalf("invite: %d %s", p.status, p.text("#error-summary"))
		}
		p = w.authoriser.get(siteURL)
		if !p.has(`#invitations tr[data-email="nina.new@nhs.net"]`) || !strings.Contains(p.text("#flash"), "expires on 2 December 2026") {
			t.Fatalf("pending invitation not shown: %s", p.text("#flash"))
		}
		// Another site's authoriser cannot see or manage this site's portal.
		if p := w.other.get(siteURL + "/invitations"); p.status != http.StatusForbidden {
			t.Fatalf("other authoriser reads invitations: %d", p.status)
		}
		if p := w.other.post(siteURL+"/invitations", invitationForm("x.y@nhs.net")); p.status != http.StatusForbidden {
			t.Fatalf("other authoriser invites: %d", p.status)
		}

		// The invited person accepts.
		token := e.latestLink("nina.new@nhs.net")
		anon := e.browser()
		p = anon.get("/invitations/" + token)
		if p.status != http.StatusOK || !strings.Contains(p.text("#invited-by"), "District Nursing North") || !p.has("#cis2-option") {
			t.Fatalf("invitation page %d %q", p.status, p.text("#invited-by"))
		}
		if p.header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatal("the invitation page may leak its link in the Referer header")
		}
		p = anon.post("/invitations/"+token, url.Values{"password": {"Correct-horse-2026"}, "password_confirm": {"Correct-horse-2027"}})
		if p.status == http.StatusSeeOther || !strings.Contains(p.text("#error-summary"), "do not match") {
			t.Fatalf("mismatched passwords: %d", p.status)
		}
		p = anon.post("/invitations/"+token, url.Values{"password": {"Correct-horse-2026"}, "password_confirm": {"Correct-horse-2026"}})
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/signin?email=nina.new%40nhs.net") {
			t.Fatalf("accept: %d %q %s", p.status, p.location(), p.text("#error-summary"))
		}
		p = anon.get("/invitations/" + token)
		if p.status != http.StatusGone || !strings.Contains(p.text("#invitation-problem"), "already been accepted") {
			t.Fatalf("used link: %d %q", p.status, p.text("#invitation-problem"))
		}
		if p := anon.get("/invitations/not-a-real-token"); p.status != http.StatusGone || !strings.Contains(p.text("#invitation-problem"), "invite you again") {
			t.Fatalf("unknown link: %d", p.status)
		}

		// The new member appears; the authoriser deactivates and reactivates them.
		p = w.authoriser.get(siteURL)
		href, ok := p.doc.Find(`#members tr[data-email="nina.new@nhs.net"] a`).Attr("href")
		if !ok {
			t.Fatal("new member not listed")
		}
		if p := w.other.get(href); p.status != http.StatusForbidden {
			t.Fatalf("other authoriser sees the member: %d", p.status)
		}
		if p := w.other.post(href+"/deactivate", url.Values{"reason": {"other"}, "notes": {"x"}}); p.status != http.StatusForbidden {
			t.Fatalf("other authoriser deactivates: %d", p.status)
		}
		if p := w.authoriser.post(href+"/deactivate", url.Values{}); !strings.Contains(p.text("#error-summary"), "Choose why") {
			t.Fatalf("deactivate without a reason: %d", p.status)
		}
		p = w.authoriser.post(href+"/deactivate", url.Values{"reason": {"long_term_sickness"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("deactivate: %d %s", p.status, p.text("#error-summary"))
		}
		p = w.authoriser.get(siteURL + "/memberships")
		if !strings.Contains(p.doc.Find(`#membership-history-table tr[data-email="nina.new@nhs.net"] .cg-status`).Text(), "Deactivated") {
			t.Fatal("deactivated member not in the history")
		}
		p = w.authoriser.post(href+"/reactivate", url.Values{"attest_direct_care": {"yes"}, "attest_told_misuse": {"yes"}, "attest_ig_training": {"yes"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("reactivate: %d %s", p.status, p.text("#error-summary"))
		}
		if p := w.authoriser.get(href); p.text("#member-status") != "Active" {
			t.Fatalf("member status %q", p.text("#member-status"))
		}

		// A cancelled invitation's link says so.
		w.authoriser.post(siteURL+"/invitations", invitationForm("carl.cancel@nhs.net"))
		ctoken := e.latestLink("carl.cancel@nhs.net")
		p = w.authoriser.get(siteURL)
		var invID string
		p.doc.Find(`#invitations tr[data-email="carl.cancel@nhs.net"] form`).Each(func(_ int, s *goquery.Selection) {
			if a, _ := s.Attr("action"); strings.HasSuffix(a, "/cancel") {
				invID = a
			}
		})
		if invID == "" {
			t.Fatal("no cancel button")
		}
		if p := w.authoriser.post(invID, nil); p.status != http.StatusSeeOther {
			t.Fatalf("cancel: %d", p.status)
		}
		if p := anon.get("/invitations/" + ctoken); p.status != http.StatusGone || !strings.Contains(p.text("#invitation-problem"), "cancelled") {
			t.Fatalf("cancelled link: %d", p.status)
		}
	})
}

func TestBulkIntakePages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		w := e.portalWorld()
		u := "/sites/" + w.site.ID + "/intake"
		file := []byte("forename,surname,email,contact_number,job_title,job_category,record_role\n" +
			"Ada,One,ada.one@nhs.net,0113 496 0001,Foundation Doctor,Medical and dental,care_professional\n" +
			"Bob,Two,bob.two@gmail.com,0113 496 0002,Foundation Doctor,Medical and dental,care_professional\n")
		p := w.authoriser.upload(u, "doctors.csv", file, nil)
		if p.status != http.StatusOK || !p.has(`#intake-rows tr[data-line="2"][data-status="ready"]`) || !p.has(`#intake-rows tr[data-line="3"][data-status="error"]`) {
			t.Fatalf("preview %d: %s", p.status, p.text("#error-summary"))
		}
		action, _ := p.doc.Find(`form[action$="/confirm"]`).Attr("action")
		if p := w.other.post(action, url.Values{"ig_confirmed": {"yes"}}); p.status != http.StatusForbidden {
			t.Fatalf("other authoriser confirms: %d", p.status)
		}
		p = w.authoriser.post(action, url.Values{"ig_confirmed": {"yes"}})
		if p.status != http.StatusOK || !p.has(`#intake-rows tr[data-line="2"][data-status="created"]`) {
			t.Fatalf("confirm %d: %s", p.status, p.text("#error-summary"))
		}
		// Wrong headers and an oversized file are refused with a clear message.
		p = w.authoriser.upload(u, "x.csv", []byte("name,mail\na,b\n"), nil)
		if !strings.Contains(p.text("#error-summary"), "header line") {
			t.Fatalf("wrong headers: %d %s", p.status, p.text("#error-summary"))
		}
		// Over the limit, whether the form's bound stops it (8 MB) or the
		// member service does (just over 5 MB): each refusal says the limit.
		p = w.authoriser.upload(u, "big.csv", bytes.Repeat([]byte("x,"), 4<<20), nil)
		if p.status != http.StatusBadRequest && p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "larger than 5 MB") {
			t.Fatalf("8 MB file: %d", p.status)
		}
		p = w.authoriser.upload(u, "big.csv", bytes.Repeat([]byte("x"), member.MaxIntakeBytes+1), nil)
		if p.status != http.StatusBadRequest || !strings.Contains(p.text("#error-summary"), "larger than 5 MB") {
			t.Fatalf("file just over the limit: %d %s", p.status, p.text("#error-summary"))
		}
		if p := w.other.upload(u, "doctors.csv", file, nil); p.status != http.StatusForbidden {
			t.Fatalf("other authoriser uploads: %d", p.status)
		}
	})
}
