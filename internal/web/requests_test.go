package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/authz"
)

// newUserForm is a complete new-user request form for a site.
func newUserForm(siteID, email, given, family string) url.Values {
	return url.Values{"type": {access.TypeNewUser}, "site_id": {siteID}, "email": {email}, "given_name": {given}, "family_name": {family},
		"job_title": {"Staff Nurse"}, "phone": {"01632 960000"}, "role": {access.RoleCareProfessional}, "notes": {"Starts on Monday"},
		"attest_direct_care": {"yes"}, "attest_told_misuse": {"yes"}, "attest_ig_training": {"yes"}}
}

// raise sends a request form and returns the new request's id.
func (b *browser) raise(form url.Values) string {
	b.e.t.Helper()
	p := b.post("/requests", form)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/requests/") {
		b.e.t.Fatalf("raising a request: status %d location %q: %s", p.status, p.location(), p.text("#error-summary"))
	}
	return strings.TrimPrefix(p.location(), "/requests/")
}

// act posts an action on a request and returns the request's page after the
// redirect, failing the test if the action is refused.
func (b *browser) act(id, verb string, form url.Values) *page {
	b.e.t.Helper()
	p := b.post("/requests/"+id+"/"+verb, form)
	if p.status != http.StatusSeeOther || p.location() != "/requests/"+id {
		b.e.t.Fatalf("%s %s: status %d location %q: %s", verb, id, p.status, p.location(), p.text("#error-summary"))
	}
	return b.get(p.location())
}

// rows returns the references of the requests listed on a requests page.
func (p *page) refs() []string {
	var out []string
	p.doc.Find("#requests tbody tr").Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-ref", "")) })
	return out
}

// summary returns a request page's summary list, key to value.
func (p *page) summary() map[string]string {
	out := map[string]string{}
	p.doc.Find(".nhsuk-summary-list__row").Each(func(_ int, s *goquery.Selection) {
		out[strings.TrimSpace(s.Find("dt").Text())] = strings.Join(strings.Fields(s.Find("dd").Text()), " ")
	})
	return out
}

func (p *page) value(sel string) string { return p.doc.Find(sel).First().AttrOr("value", "") }

// refOf reads a request's reference from its page.
func refOf(t *testing.T, b *browser, id string) string {
	t.Helper()
	p := b.get("/requests/" + id)
	if p.status != http.StatusOK {
		t.Fatalf("request page %s: %d", id, p.status)
	}
	return p.text("#ref")
}

func (e *env) signedIn(email string) *browser {
	e.t.Helper()
	b := e.browser()
	b.signIn(email)
	return b
}

// An organisation whose site authorisers validate: the request goes
// straight to the back office's queue with a due date 5 working days on.
func TestRaiseRequestAtSiteAuthoriserOrganisation(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		auth2 := e.signedIn(r.otherAuthoriser.Email)
		form := auth2.get("/requests/new")
		if form.status != http.StatusOK {
			t.Fatalf("request form: %d", form.status)
		}
		if v := form.value("#site_id option[selected]"); v != r.site2.ID {
			t.Errorf("the only site the authoriser authorises is not chosen: %q", v)
		}
		for _, want := range []string{"direct care only", "own, their colleagues', or their friends' and family's", "information governance training is up to date"} {
			if !strings.Contains(form.doc.Find(`label[for^="attest_"]`).Text(), want) {
				t.Errorf("the attestations do not say %q", want)
			}
		}
		if n := form.doc.Find(`input[name=type][type=radio]`).Length(); n != len(access.Types) {
			t.Errorf("%d request types offered, want %d", n, len(access.Types))
		}
		id := auth2.raise(newUserForm(r.site2.ID, "jane.smith@nhs.net", "Jane", "Smith"))
		p := auth2.get("/requests/" + id)
		if f := p.text("#flash"); !strings.Contains(f, "sent to the back office") {
			t.Errorf("flash %q", f)
		}
		svc := e.app.Access.Config().ServiceName
		if h1 := p.text("main h1"); h1 != svc+" (starter) Jane Smith" {
			t.Errorf("title %q", h1)
		}
		if s := p.text("#state"); s != "Validated" {
			t.Errorf("state %q, want Validated", s)
		}
		s := p.summary()
		for k, want := range map[string]string{"E-mail address": "jane.smith@nhs.net", "Job title": "Staff Nurse", "Organisation": "Second Trust",
			"Site": "Clinic 2", "Due": "09:00 09/11/2026 (UTC)", "Assigned to": "No one", "Notes": "Starts on Monday",
			"Record role": "Care Professional (sees the whole record)"} {
			if s[k] != want {
				t.Errorf("summary %s = %q, want %q", k, s[k], want)
			}
		}
		if p.has("#validate") || p.has("#complete") || p.has("#assign") {
			t.Error("the authoriser is offered the desk's or back office's actions")
		}
		if !p.has("#cancel") {
			t.Error("the submitter is not offered to cancel")
		}

		bo := e.signedIn("backoffice@nhs.net")
		q := bo.get("/requests")
		if q.status != http.StatusOK {
			t.Fatalf("queue: %d", q.status)
		}
		ref := p.text("#ref")
		if refs := q.refs(); !slices.Equal(refs, []string{ref}) {
			t.Fatalf("queue lists %q, want [%s]", refs, ref)
		}
		row := q.doc.Find("#requests tbody tr").First()
		if due := row.Find("td").Eq(5).Text(); !strings.Contains(due, "9 November 2026") || strings.Contains(due, "Overdue") {
			t.Errorf("due cell %q, want 9 November 2026 and not overdue", due)
		}
		if where := row.Find("td").Eq(3).Text(); where != "Second TrustClinic 2" {
			t.Errorf("organisation cell %q, want Second Trust and Clinic 2", where)
		}
		if q.text("#open-count") != "1" || q.text("#overdue-count") != "0" {
			t.Errorf("counts: open %q overdue %q", q.text("#open-count"), q.text("#overdue-count"))
		}
		if !row.Find(`input[name=id][type=checkbox]`).Is("input") {
			t.Error("the back office cannot tick a validated request for bulk completion")
		}
	})
}

// An organisation with a service desk: the authoriser's request waits for
// the desk, which validates it; the desk's own requests are validated at once.
func TestRaiseRequestAtServiceDeskOrganisation(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		a := e.signedIn("authoriser@nhs.net")
		id := a.raise(newUserForm(r.site1.ID, "sam.lee@nhs.net", "Sam", "Lee"))
		p := a.get("/requests/" + id)
		if f := p.text("#flash"); !strings.Contains(f, "service desk to validate") {
			t.Errorf("flash %q", f)
		}
		if s := p.text("#state"); s != "Submitted" {
			t.Errorf("state %q, want Submitted", s)
		}
		if due := p.summary()["Due"]; !strings.HasPrefix(due, "When the request is validated") {
			t.Errorf("due %q before validation", due)
		}

		desk := e.signedIn("desk@nhs.net")
		dp := desk.get("/requests")
		if !slices.Contains(dp.refs(), p.text("#ref")) {
			t.Errorf("the desk's list %q lacks the request", dp.refs())
		}
		page := desk.get("/requests/" + id)
		if !page.has("#validate") || !page.has("#reject") || !page.has("#ask") || page.has("#complete") {
			t.Error("the desk is not offered validate, reject and ask (and only those)")
		}
		page = desk.act(id, "validate", url.Values{"validate_note": {"Checked with the ward manager"}})
		if s := page.text("#state"); s != "Validated" {
			t.Errorf("after validation the state is %q", s)
		}
		if f := page.text("#flash"); !strings.Contains(f, "validated") {
			t.Errorf("flash %q", f)
		}
		if due := page.summary()["Due"]; due != "09:00 09/11/2026 (UTC)" {
			t.Errorf("due %q after validation on Monday 2 November", due)
		}
		hist := page.doc.Find("#history tbody tr")
		if hist.Length() != 2 || !strings.Contains(hist.Eq(1).Text(), "Checked with the ward manager") || !strings.Contains(hist.Eq(1).Text(), "desk@nhs.net") {
			t.Errorf("history after validation: %q", strings.Join(strings.Fields(hist.Text()), " "))
		}

		// The desk raises one itself, for its organisation without a site.
		form := newUserForm("", "kim.park@nhs.net", "Kim", "Park")
		form.Set("organisation_id", r.org1.ID)
		id2 := desk.raise(form)
		if s := desk.get("/requests/" + id2).text("#state"); s != "Validated" {
			t.Errorf("the desk's own request is %q, want Validated", s)
		}
	})
}

func TestRequestFormErrorsKeepValues(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		b := e.signedIn(r.otherAuthoriser.Email)
		form := newUserForm(r.site2.ID, "jane.smith@gmail.com", "Jane", "Smith")
		form.Set("finishing_date", "2026-10-01")
		for _, k := range []string{"attest_direct_care", "attest_told_misuse", "attest_ig_training"} {
			form.Del(k)
		}
		p := b.post("/requests", form)
		if p.status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", p.status)
		}
		var links []string
		p.doc.Find("#error-summary a").Each(func(_ int, s *goquery.Selection) { links = append(links, s.AttrOr("href", "")) })
		for _, f := range []string{"email", "finishing_date", "attest_direct_care", "attest_told_misuse", "attest_ig_training"} {
			if !slices.Contains(links, "#"+f) {
				t.Errorf("error summary %q lacks #%s", links, f)
			}
			if !p.has("#" + f) {
				t.Errorf("no field #%s for the summary's link", f)
			}
			if !p.has("#" + f + "-error") {
				t.Errorf("no inline error for %s", f)
			}
		}
		if msg := p.text("#email-error"); !strings.Contains(msg, "nhs.net") {
			t.Errorf("e-mail error %q does not name the allowed domain", msg)
		}
		for sel, want := range map[string]string{"#email": "jane.smith@gmail.com", "#given_name": "Jane", "#family_name": "Smith",
			"#job_title": "Staff Nurse", "#phone": "01632 960000", "#finishing_date": "2026-10-01"} {
			if got := p.value(sel); got != want {
				t.Errorf("%s kept %q, want %q", sel, got, want)
			}
		}
		if !p.has(`#type[checked]`) || !p.has(`#role[checked]`) || p.value(`#site_id option[selected]`) != r.site2.ID {
			t.Error("the type, role or site chosen was lost")
		}
		if p.text("#notes") != "Starts on Monday" {
			t.Errorf("notes kept %q", p.text("#notes"))
		}
		if title := p.text("#request-title"); title != e.app.Access.Config().ServiceName+" (starter) Jane Smith" {
			t.Errorf("title shown %q", title)
		}
		if !strings.HasPrefix(p.text("title"), "Error: ") {
			t.Errorf("page title %q", p.text("title"))
		}
		// Ticked attestations are kept too.
		form.Set("attest_direct_care", "yes")
		p = b.post("/requests", form)
		if !p.has(`#attest_direct_care[checked]`) || p.has(`#attest_ig_training[checked]`) {
			t.Error("the attestations ticked were not kept")
		}
		// Without a site the organisation is unknown: the site list says so.
		form.Del("site_id")
		p = b.post("/requests", form)
		if p.status != http.StatusBadRequest || p.doc.Find(`#error-summary a[href="#site_id"]`).Length() != 1 || !p.has("#site_id-error") {
			t.Errorf("no site: %d %q", p.status, p.text("#error-summary"))
		}
		// Nothing was created.
		if q := e.signedIn("backoffice@nhs.net").get("/requests?state=any"); len(q.refs()) != 0 {
			t.Errorf("a refused request was stored: %q", q.refs())
		}
	})
}

func TestDuplicateRequestRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		b := e.signedIn(r.otherAuthoriser.Email)
		b.raise(newUserForm(r.site2.ID, "jane.smith@nhs.net", "Jane", "Smith"))
		p := b.post("/requests", newUserForm(r.site2.ID, "Jane.Smith@nhs.net", "Jane", "Smith"))
		if p.status != http.StatusConflict {
			t.Fatalf("duplicate: status %d, want 409", p.status)
		}
		if msg := p.text("#error-summary p"); !strings.Contains(msg, "already an open request") {
			t.Errorf("duplicate message %q", msg)
		}
		if p.value("#email") != "Jane.Smith@nhs.net" {
			t.Errorf("the e-mail typed was lost: %q", p.value("#email"))
		}
	})
}

// The whole path: the back office assigns, asks, the submitter answers, the
// back office completes; the person gets a record account and their user
// name and password in two separate e-mails.
func TestRequestLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.region()
		a := e.signedIn(r.otherAuthoriser.Email)
		id := a.raise(newUserForm(r.site2.ID, "new.person@nhs.net", "New", "Person"))
		bo := e.signedIn("backoffice@nhs.net")

		p := bo.get("/requests/" + id)
		if !p.has("#assign") || !p.has("#complete") || !p.has("#ask") || !p.has("#reject") || p.has("#validate") {
			t.Error("the back office is not offered assign, complete, ask and reject")
		}
		p = bo.act(id, "assign", nil)
		if p.text("#state") != "In progress" || !strings.Contains(p.summary()["Assigned to"], "backoffice@nhs.net") || p.has("#assign") {
			t.Errorf("after assigning: state %q, assigned to %q", p.text("#state"), p.summary()["Assigned to"])
		}
		if q := bo.get("/requests?assignee=me"); len(q.refs()) != 1 || !strings.Contains(q.doc.Find("#requests tbody td").Eq(7).Text(), "(backoffice@nhs.net)") {
			t.Errorf("assigned to me: %q, assignee %q", q.refs(), q.doc.Find("#requests tbody td").Eq(7).Text())
		}
		if q := bo.get("/requests?assignee=none"); len(q.refs()) != 0 {
			t.Errorf("unassigned: %q", q.refs())
		}

		// A question must be asked.
		p = bo.post("/requests/"+id+"/ask", url.Values{"question": {" "}})
		if p.status != http.StatusBadRequest || !p.has("#question-error") || p.text("main h1") == "" {
			t.Errorf("empty question: status %d, inline error %v", p.status, p.has("#question-error"))
		}
		p = bo.act(id, "ask", url.Values{"question": {"Which ward will they work on?"}})
		if p.text("#state") != "Waiting for information" {
			t.Errorf("after asking: %q", p.text("#state"))
		}
		// The submitter sees the question and answers it.
		p = a.get("/requests/" + id)
		if !strings.Contains(p.text("#question-asked"), "Which ward") || !p.has("#send-answer") {
			t.Error("the submitter does not see the question with a form to answer it")
		}
		p = a.act(id, "answer", url.Values{"answer": {"Ward 7"}})
		if p.text("#state") != "In progress" || p.summary()["Answer"] != "Ward 7" {
			t.Errorf("after answering: state %q answer %q", p.text("#state"), p.summary()["Answer"])
		}

		p = bo.act(id, "complete", url.Values{"note": {"Account created"}})
		if p.text("#state") != "Completed" || p.summary()["Resolution"] != "Account created" || p.has("#complete") || p.has("#cancel") {
			t.Errorf("after completing: state %q resolution %q", p.text("#state"), p.summary()["Resolution"])
		}
		var to []string
		p.doc.Find("#history tbody tr td:nth-child(4)").Each(func(_ int, s *goquery.Selection) { to = append(to, s.Text()) })
		if want := []string{"Submitted", "Validated", "In progress", "Waiting for information", "In progress", "Completed"}; !slices.Equal(to, want) {
			t.Errorf("history %q, want %q", to, want)
		}

		u, err := e.app.Users.UserByEmail(ctx, "new.person@nhs.net")
		if err != nil {
			t.Fatalf("no sign-in identity for the new user: %v", err)
		}
		acct, err := e.app.Access.Account(ctx, u.ID)
		if err != nil || acct.Status != access.AccountActive || acct.Role != access.RoleCareProfessional {
			t.Fatalf("record account %+v, %v", acct, err)
		}
		rows, err := e.app.DB.Query(ctx, `SELECT kind, to_addr FROM outbox WHERE to_addr = ? ORDER BY kind`, "new.person@nhs.net")
		if err != nil {
			t.Fatal(err)
		}
		var mails []string
		for rows.Next() {
			var kind, addr string
			if err := rows.Scan(&kind, &addr); err != nil {
				t.Fatal(err)
			}
			mails = append(mails, kind)
		}
		rows.Close()
		if !slices.Equal(mails, []string{"credentials_password", "credentials_username"}) {
			t.Errorf("e-mails to the new user: %q, want the user name and the password in two messages", mails)
		}
		if q := bo.get("/requests?state=completed"); len(q.refs()) != 1 {
			t.Errorf("completed filter: %q", q.refs())
		}
		if q := bo.get("/requests"); len(q.refs()) != 0 || q.text("#open-count") != "0" {
			t.Errorf("the open queue still lists %q", q.refs())
		}
	})
}

// The person a request is about sees its progress, and their access on
// their home page once it is done.
func TestMemberSeesRequestAndAccount(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		a := e.signedIn(r.otherAuthoriser.Email)
		m := e.signedIn("member@nhs.net")
		if home := m.get("/"); !home.has("#no-record-account") || !home.has(`a[href="/requests"]`) || home.has(`main a[href="/requests/new"]`) {
			t.Error("a member's home page: want no record account, a link to requests and none to the form")
		}
		if p := m.get("/requests/new"); p.status != http.StatusForbidden {
			t.Errorf("a member opens the request form: %d", p.status)
		}
		id := a.raise(newUserForm(r.site2.ID, "member@nhs.net", "Test", "Member"))
		ref := refOf(t, a, id)
		ml := m.get("/requests")
		if refs := ml.refs(); !slices.Equal(refs, []string{ref}) {
			t.Errorf("the member sees %q, want the request about them", refs)
		}
		if where := strings.TrimSpace(ml.doc.Find("#requests tbody td").Eq(2).Text()); where != "" {
			t.Errorf("the member is shown the organisation and site %q, which they may not see", where)
		}
		p := m.get("/requests/" + id)
		if p.status != http.StatusOK || p.has("#cancel") || p.has("#complete") {
			t.Errorf("the member's view of the request: %d, with actions", p.status)
		}
		e.signedIn("backoffice@nhs.net").act(id, "complete", nil)
		home := m.get("/")
		if s := home.text("#account-status"); s != "Active" {
			t.Errorf("home page account status %q", s)
		}
		if home.text("#account-username") == "" {
			t.Error("home page shows no record user name")
		}
	})
}

func TestBulkCompletion(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		a := e.signedIn(r.otherAuthoriser.Email)
		var ids []string
		for i := range 4 {
			ids = append(ids, a.raise(newUserForm(r.site2.ID, fmt.Sprintf("doctor%d@nhs.net", i), "Doctor", fmt.Sprintf("Number%d", i))))
		}
		bo := e.signedIn("backoffice@nhs.net")
		bo.act(ids[3], "complete", nil)
		q := bo.get("/requests?type=new_user")
		if !q.has("#complete-selected") || q.doc.Find(`#requests input[name=id]`).Length() != 3 {
			t.Fatalf("the queue offers %d requests to tick", q.doc.Find(`#requests input[name=id]`).Length())
		}
		form := url.Values{"id": ids, "bulk_note": {"August intake"}, "back": {q.value(`input[name=back]`)}}
		p := bo.post("/requests/complete", form)
		if p.status != http.StatusSeeOther || p.location() != "/requests?state=open&type=new_user" {
			t.Fatalf("bulk completion: %d %q", p.status, p.location())
		}
		q = bo.get(p.location())
		if f := q.text("#flash"); !strings.HasPrefix(f, "3 completed, 1 could not be: ") || !strings.Contains(f, "completed, so it cannot be completed") {
			t.Errorf("flash %q", f)
		}
		for _, id := range ids[:3] {
			if p := bo.get("/requests/" + id); p.text("#state") != "Completed" || p.summary()["Resolution"] != "August intake" {
				t.Errorf("request %s: %q %q", id, p.text("#state"), p.summary()["Resolution"])
			}
		}
		if p := bo.post("/requests/complete", url.Values{"back": {"state=open"}}); p.status != http.StatusBadRequest || !p.has("#error-summary") {
			t.Errorf("nothing ticked: %d", p.status)
		}
		if p := a.post("/requests/complete", url.Values{"id": ids[:1]}); p.status != http.StatusForbidden {
			t.Errorf("an authoriser completes in bulk: %d", p.status)
		}
	})
}

func TestOverdueRequestsMarked(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		a := e.signedIn(r.otherAuthoriser.Email)
		late := a.raise(newUserForm(r.site2.ID, "late@nhs.net", "Late", "Request"))
		e.clock.Advance(8 * 24 * time.Hour)
		bo := e.signedIn("backoffice@nhs.net")
		a = e.signedIn(r.otherAuthoriser.Email) // the first session has timed out
		fresh := a.raise(newUserForm(r.site2.ID, "fresh@nhs.net", "Fresh", "Request"))
		lateRef, freshRef := refOf(t, bo, late), refOf(t, bo, fresh)

		q := bo.get("/requests")
		if q.text("#overdue-count") != "1" || q.text("#open-count") != "2" {
			t.Errorf("counts: open %q overdue %q", q.text("#open-count"), q.text("#overdue-count"))
		}
		q.doc.Find("#requests tbody tr").Each(func(_ int, s *goquery.Selection) {
			overdue := s.Find(".cg-overdue").Length() > 0
			if ref := s.AttrOr("data-ref", ""); overdue != (ref == lateRef) {
				t.Errorf("row %s marked overdue: %v", ref, overdue)
			}
		})
		if refs := bo.get("/requests?overdue=1").refs(); !slices.Equal(refs, []string{lateRef}) {
			t.Errorf("overdue filter: %q, want [%s]", refs, lateRef)
		}
		if p := bo.get("/requests/" + late); !p.has("#overdue") {
			t.Error("the overdue request's page does not say so")
		}
		if p := bo.get("/requests/" + fresh); p.has("#overdue") {
			t.Errorf("request %s is marked overdue", freshRef)
		}
	})
}

func TestSuspensionRefusesNewUserRequests(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.region()
		const msg = "New requests are paused until 1 December while the record is upgraded."
		if _, err := e.app.DB.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('requests_suspended', '1'), ('requests_suspended_message', ?)`, msg); err != nil {
			t.Fatal(err)
		}
		b := e.signedIn(r.otherAuthoriser.Email)
		p := b.post("/requests", newUserForm(r.site2.ID, "jane.smith@nhs.net", "Jane", "Smith"))
		if p.status != http.StatusConflict {
			t.Fatalf("new user while suspended: %d, want 409", p.status)
		}
		if got := p.text("#error-summary p"); got != msg {
			t.Errorf("message %q, want %q", got, msg)
		}
		if p.value("#email") != "jane.smith@nhs.net" {
			t.Error("the form was not kept")
		}
	})
}

// Who may see and act on a real request (the matrix uses made-up ids).
func TestRequestPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		b := map[string]*browser{}
		for _, role := range []string{authz.Member, authz.SiteAuthoriser, authz.ServiceDesk, authz.BackOffice, authz.PrivacyOfficer, authz.Admin} {
			b[role] = e.signedIn(r.people[role].Email)
		}
		b["other authoriser"] = e.signedIn(r.otherAuthoriser.Email)
		id := b[authz.SiteAuthoriser].raise(newUserForm(r.site1.ID, "someone@nhs.net", "Some", "One"))
		ref := refOf(t, b[authz.SiteAuthoriser], id)
		sees := map[string]bool{authz.Member: false, "other authoriser": false, authz.SiteAuthoriser: true, authz.ServiceDesk: true,
			authz.BackOffice: true, authz.PrivacyOfficer: true, authz.Admin: true}
		for who, want := range sees {
			p := b[who].get("/requests/" + id)
			if got := p.status == http.StatusOK; got != want || (!want && p.status != http.StatusForbidden) {
				t.Errorf("%s opens the request: %d", who, p.status)
			}
			if got := slices.Contains(b[who].get("/requests?state=any").refs(), ref); got != want {
				t.Errorf("%s lists the request: %v, want %v", who, got, want)
			}
		}
		if p := e.browser().get("/requests/" + id); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/signin") {
			t.Errorf("anonymous: %d %q", p.status, p.location())
		}
		// Actions the service refuses on a submitted request.
		refused := []struct{ who, verb string }{
			{authz.BackOffice, "validate"}, {authz.SiteAuthoriser, "validate"}, {authz.Member, "validate"}, {authz.Admin, "validate"},
			{authz.ServiceDesk, "complete"}, {authz.SiteAuthoriser, "complete"}, {authz.SiteAuthoriser, "assign"},
			{"other authoriser", "cancel"}, {authz.PrivacyOfficer, "reject"}, {authz.Member, "answer"},
		}
		for _, c := range refused {
			if p := b[c.who].post("/requests/"+id+"/"+c.verb, url.Values{"reason": {"x"}, "answer": {"x"}}); p.status != http.StatusForbidden {
				t.Errorf("%s may %s: %d", c.who, c.verb, p.status)
			}
		}
		// A transition the state does not allow is a conflict shown on the page.
		p := b[authz.SiteAuthoriser].post("/requests/"+id+"/answer", url.Values{"answer": {"Nothing was asked"}})
		if p.status != http.StatusConflict || !strings.Contains(p.text("#error-summary"), "cannot be answered") || p.text("#ref") != ref {
			t.Errorf("answering an unasked request: %d %q", p.status, p.text("#error-summary"))
		}
		// The forms shown follow the same rules.
		if p := b[authz.PrivacyOfficer].get("/requests/" + id); p.has("form[action^='/requests/']") {
			t.Error("a privacy officer is offered actions")
		}
	})
}

// The queue pages with a cursor and filters by type, organisation and text.
func TestQueuePagingAndFilters(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.region()
		auth2, err := e.app.Users.UserByEmail(ctx, r.otherAuthoriser.Email)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := authz.Load(ctx, e.app.DB, auth2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 52 {
			e.clock.Advance(time.Second)
			in := access.Input{Type: access.TypeNewUser, SiteID: r.site2.ID, Email: fmt.Sprintf("p%02d@nhs.net", i), GivenName: "Person",
				FamilyName: fmt.Sprintf("N%02d", i), JobTitle: "Doctor", Role: access.RoleAdministrator,
				AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
			if _, err := e.app.Access.Raise(ctx, p2, in); err != nil {
				t.Fatal(err)
			}
		}
		bo := e.signedIn("backoffice@nhs.net")
		first := bo.get("/requests")
		if n := len(first.refs()); n != 50 || !first.has("#older") {
			t.Fatalf("first page: %d rows, older link %v", n, first.has("#older"))
		}
		href := first.doc.Find("#older").AttrOr("href", "")
		second := bo.get(href)
		if n := len(second.refs()); n != 2 || second.has("#older") || !second.has("#first") {
			t.Errorf("second page (%s): %d rows", href, n)
		}
		if slices.Contains(first.refs(), second.refs()[0]) {
			t.Error("the pages overlap")
		}
		if refs := bo.get("/requests?q=n07").refs(); len(refs) != 1 {
			t.Errorf("search by name: %q", refs)
		}
		if refs := bo.get("/requests?q=p07%40nhs.net").refs(); len(refs) != 1 {
			t.Errorf("search by e-mail: %q", refs)
		}
		if refs := bo.get("/requests?organisation=" + r.org1.ID).refs(); len(refs) != 0 {
			t.Errorf("organisation filter: %q", refs)
		}
		if refs := bo.get("/requests?type=deletion").refs(); len(refs) != 0 {
			t.Errorf("type filter: %q", refs)
		}
		if p := bo.get("/requests?state=nonsense"); p.status != http.StatusBadRequest || !p.has("#state-error") {
			t.Errorf("bad state filter: %d", p.status)
		}
		if p := bo.get("/requests?before=garbage"); p.status != http.StatusBadRequest {
			t.Errorf("bad cursor: %d", p.status)
		}
		if p := bo.get("/requests?" + url.Values{"q": {first.refs()[3]}}.Encode()); len(p.refs()) != 1 {
			t.Errorf("search by reference: %q", p.refs())
		}
	})
}
