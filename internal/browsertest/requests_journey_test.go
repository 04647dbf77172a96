package browsertest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/demo"
)

const navRequests = `.nhsuk-header__navigation-link[href="/requests"]`

// TestRequestJourney runs the access request journey on a server of its own
// on every engine, beside the other journeys.
func TestRequestJourney(t *testing.T) {
	needBrowser(t)
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, e)
			// The demo's requests in every state, so that the queue is
			// not empty and every state's tag is checked on the way.
			a := srv.App
			if err := demo.LoadRequests(context.Background(), a.DB, a.Users, a.Orgs, a.Access); err != nil {
				t.Fatalf("demo.LoadRequests on %s: %v", e.name, err)
			}
			requestJourney(t, srv)
		})
	}
}

// requestJourney: a site authoriser of an organisation whose authorisers
// validate raises a new-user request through the form, correcting a mistake
// on the way; the back office finds it in its queue, takes it and completes
// it; the request's page shows it completed with its whole history.
func requestJourney(t *testing.T, srv *server) {
	sarah := openTab(t, srv, "site authoriser")
	sarah.signIn("sarah.jones@nhs.net")
	sarah.wantStatus(sarah.follow(navRequests), http.StatusOK)
	sarah.wantPath("/requests")
	sarah.wantStatus(sarah.follow("#raise"), http.StatusOK)
	sarah.wantPath("/requests/new")
	if n := sarah.count(`input[name="type"]`); n != 5 {
		sarah.errorf("%d request types offered, want 5", n)
	}
	sarah.click("#type") // New user, the first type
	site := eval[string](sarah, `(s => { const o = Array.from(s.options).find(o => o.text.startsWith('District Nursing North')); if (o) s.value = o.value; return o ? o.value : ''; })(document.querySelector('#site_id'))`)
	if site == "" {
		sarah.fatalf("the site list does not offer District Nursing North")
	}
	sarah.typeInto("#email", "olivia.green@gmail.com")
	sarah.typeInto("#given_name", "Olivia")
	sarah.typeInto("#family_name", "Green")
	sarah.typeInto("#job_title", "Community Staff Nurse")
	sarah.click("#role") // Care Professional
	sarah.click("#attest_direct_care")
	sarah.click("#attest_told_misuse")
	sarah.wantStatus(sarah.follow("#send"), http.StatusBadRequest)
	sarah.wantPath("/requests")
	sarah.wantErrorSummary("email", "attest_ig_training")
	for sel, want := range map[string]string{"#email": "olivia.green@gmail.com", "#given_name": "Olivia", "#family_name": "Green",
		"#job_title": "Community Staff Nurse", "#site_id": site} {
		if got := sarah.value(sel); got != want {
			sarah.errorf("after the error, %s holds %q, want %q", sel, got, want)
		}
	}
	if !eval[bool](sarah, `document.querySelector('#type').checked && document.querySelector('#role').checked && document.querySelector('#attest_direct_care').checked`) {
		sarah.errorf("the choices made were lost after the error")
	}
	if title := sarah.text("#request-title"); !strings.HasSuffix(title, "(starter) Olivia Green") {
		sarah.errorf("the form says the title will be %q", title)
	}
	sarah.fill("#email", "olivia.green@nhs.net")
	sarah.click("#attest_ig_training")
	sarah.wantStatus(sarah.follow("#send"), http.StatusOK)
	reqPath := sarah.path()
	if !strings.HasPrefix(reqPath, "/requests/") {
		sarah.fatalf("after sending the request the browser is on %s", sarah.where())
	}
	if f := sarah.flash(); !strings.Contains(f, "sent to the back office") {
		sarah.errorf("flash %q, want it to say the request went to the back office", f)
	}
	if s := sarah.text("#state"); s != "Validated" {
		sarah.errorf("a site authoriser's request is %q, want Validated", s)
	}
	ref := sarah.text("#ref")
	if s := sarah.summary(); s["E-mail address"] != "olivia.green@nhs.net" || s["Site"] != "District Nursing North" ||
		s["Organisation"] != "Riverside Community Health" || !strings.HasPrefix(s["Record role"], "Care Professional") {
		sarah.errorf("request summary %q", s)
	}

	// The back office.
	tom := openTab(t, srv, "back office")
	tom.signIn("tom.baker@nhs.net")
	tom.wantStatus(tom.follow(navRequests), http.StatusOK)
	tom.wantPath("/requests")
	if tom.count("#open-count") != 1 || tom.count("#overdue-count") != 1 {
		tom.errorf("the queue does not show the counts of open and overdue requests")
	}
	tom.typeInto("#q", "Olivia Green")
	tom.wantStatus(tom.follow(`#filters button[type="submit"]`), http.StatusOK)
	if refs := eval[[]string](tom, `Array.from(document.querySelectorAll('#requests tbody tr'), r => r.dataset.ref)`); !slices.Equal(refs, []string{ref}) {
		tom.fatalf("searching the queue for Olivia Green finds %q, want [%s]", refs, ref)
	}
	if due := tom.text(`#requests tbody tr td:nth-child(6)`); due == "" || strings.Contains(due, "Overdue") || strings.Contains(due, "Not yet") {
		tom.errorf("the queue shows the due date %q", due)
	}
	tom.wantStatus(tom.follow(`#requests a[href="`+reqPath+`"]`), http.StatusOK)
	tom.wantPath(reqPath)
	tom.wantStatus(tom.follow("#assign"), http.StatusOK)
	tom.wantPath(reqPath)
	if f := tom.flash(); !strings.Contains(f, "assigned to you") {
		tom.errorf("flash %q after assigning", f)
	}
	if s := tom.text("#state"); s != "In progress" {
		tom.errorf("after assigning the request is %q", s)
	}
	if a := tom.summary()["Assigned to"]; !strings.Contains(a, "tom.baker@nhs.net") {
		tom.errorf("assigned to %q", a)
	}
	tom.typeInto("#note", "Record account created; credentials sent")
	tom.wantStatus(tom.follow("#complete"), http.StatusOK)
	tom.wantPath(reqPath)
	if f := tom.flash(); !strings.Contains(f, "has been completed") {
		tom.errorf("flash %q after completing", f)
	}
	if s := tom.text("#state"); !strings.EqualFold(s, "completed") {
		tom.errorf("after completing the request is %q", s)
	}
	if r := tom.summary()["Resolution"]; r != "Record account created; credentials sent" {
		tom.errorf("resolution %q", r)
	}
	history := eval[[][]string](tom, `Array.from(document.querySelectorAll('#history tbody tr'), r => Array.from(r.cells, c => c.textContent.trim()))`)
	var to []string
	for _, row := range history {
		to = append(to, row[3])
	}
	if want := []string{"Submitted", "Validated", "In progress", "Completed"}; !slices.Equal(to, want) {
		tom.errorf("history %q, want the steps %q", history, want)
	}
	if len(history) == 4 && (history[0][1] != "sarah.jones@nhs.net" || history[3][1] != "tom.baker@nhs.net") {
		tom.errorf("history names %q and %q, want Sarah and Tom", history[0][1], history[3][1])
	}
	if tom.count("#complete") != 0 || tom.count("#assign") != 0 {
		tom.errorf("a completed request still offers actions")
	}

	// Sarah sees the outcome.
	sarah.wantStatus(sarah.open(reqPath), http.StatusOK)
	if s := sarah.text("#state"); s != "Completed" {
		sarah.errorf("the submitter sees the request as %q", s)
	}
}
