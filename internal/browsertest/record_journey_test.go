package browsertest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/record"
)

// TestRecordJourney runs the record journeys — search and view, and a
// contextual launch — on a server of their own on every engine.
func TestRecordJourney(t *testing.T) {
	needBrowser(t)
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, e)
			ctx := context.Background()
			a := srv.App
			// Amir Khan's new-user request is completed in the demo: he has
			// an active Care Professional account at Riverside (RY4); so is
			// Ruth Ellis's, an Administrator at Meadow Lane (M85001).
			if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
				t.Fatalf("demo.LoadRequests on %s: %v", e.name, err)
			}
			if err := demo.LoadPatients(ctx, a.DB, a.Record, 40, 40, nil); err != nil {
				t.Fatalf("demo.LoadPatients on %s: %v", e.name, err)
			}
			recordSearchAndView(t, srv)
			recordAdministratorRole(t, srv)
			recordLaunch(t, srv)
		})
	}
}

// recordSearchAndView: a district nurse finds a patient by NHS number from
// the navigation, opens their record, reads the summary and the problems,
// each item naming the organisation it came from.
func recordSearchAndView(t *testing.T, srv *server) {
	nhs := demo.PatientNHSNumbers(1)[0]
	amir := openTab(t, srv, "record viewer")
	amir.signIn("amir.khan@nhs.net")
	if name := openByNHSNumber(amir, nhs, nhs[:3]+" "+nhs[3:6]+" "+nhs[6:]); name != demo.PatientName(0) {
		amir.errorf("the result is %q, want %q", name, demo.PatientName(0))
	}
	if got := amir.text("#patient-gp"); got != "Meadow Lane Surgery" {
		amir.errorf("the banner's GP practice is %q", got)
	}
	if got := amir.text("#section-title"); got != "Summary" {
		amir.errorf("the first section is %q, want the summary", got)
	}
	if n := amir.count("#sections a"); n != len(record.Sections) {
		amir.errorf("%d sections offered to a Care Professional, want %d", n, len(record.Sections))
	}
	amir.wantStatus(amir.follow("#tab-problems"), http.StatusOK)
	amir.wantPath("/record/patients/" + nhs + "/problems")
	if n := amir.count("#items tbody tr"); n > 0 && !strings.Contains(amir.text(".cg-provenance"), "Meadow Lane Surgery (M85001)") {
		amir.errorf("a problem does not name its supplier: %q", amir.text(".cg-provenance"))
	}
}

// openByNHSNumber goes to the record's search from the navigation,
// searches for an NHS number (typed as given), finds one patient and opens
// their record on it. It returns the name the result showed.
func openByNHSNumber(b *tab, nhs, typed string) string {
	b.t.Helper()
	b.wantStatus(b.follow(`.nhsuk-header__navigation-link[href="/record"]`), http.StatusOK)
	b.wantPath("/record")
	b.typeInto("#nhs_number", typed)
	b.wantStatus(b.follow("#search-button"), http.StatusOK)
	if n := b.count("#results tbody tr"); n != 1 {
		b.fatalf("%d results for an NHS number, want 1", n)
	}
	name := b.text("#results tbody a")
	b.wantStatus(b.follow("#results tbody a"), http.StatusOK)
	b.wantPath("/record/patients/" + nhs)
	if got := b.text("#patient-nhs"); got != nhs {
		b.errorf("the banner's NHS number is %q", got)
	}
	return name
}

// recordAdministratorRole: a GP receptionist with the Administrator record
// role, signed in with her demo account, opens a patient on the
// appointments: the clinical sections are not offered, and the medications
// asked for by their address are refused by the server.
func recordAdministratorRole(t *testing.T, srv *server) {
	nhs := demo.PatientNHSNumbers(2)[1]
	ruth := openTab(t, srv, "record viewer, Administrator role")
	ruth.signIn("ruth.ellis@nhs.net")
	openByNHSNumber(ruth, nhs, nhs)
	if got := ruth.text("#section-title"); got != "Appointments" {
		ruth.errorf("the first section is %q, want Appointments", got)
	}
	if got := ruth.texts("#sections a"); len(got) != 1 || got[0] != "Appointments" {
		ruth.errorf("sections offered to an Administrator: %q, want only Appointments", got)
	}
	if n := ruth.count("#tab-medications") + ruth.count("#tab-summary") + ruth.count("#tab-problems"); n != 0 {
		ruth.errorf("clinical sections are offered to an Administrator")
	}
	ruth.wantStatus(ruth.open("/record/patients/"+nhs+"/medications"), http.StatusForbidden)
	if ruth.count("#record-refused") != 1 || ruth.count("#items") != 0 {
		ruth.errorf("the medications of an Administrator's view are not refused")
	}
	if got := ruth.text("#record-refused"); !strings.Contains(got, "medications") {
		ruth.errorf("the refusal says %q", got)
	}
}

// recordLaunch: the nurse's own clinical system opens the record on a
// patient with a signed launch token posted from its page; the viewer opens
// without a sign-in and says it was opened from the clinical system. The
// same token a second time is refused with a clear page.
func recordLaunch(t *testing.T, srv *server) {
	ctx := context.Background()
	a := srv.App
	admin, err := a.Users.UserByEmail(ctx, "priya.shah@nhs.net")
	if err != nil {
		t.Fatal(err)
	}
	p, err := authz.Load(ctx, a.DB, admin)
	if err != nil {
		t.Fatal(err)
	}
	var orgID string
	if err := a.DB.QueryRow(ctx, `SELECT id FROM organisations WHERE ods_code = 'RY4'`).Scan(&orgID); err != nil {
		t.Fatal(err)
	}
	priv, pub, err := record.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := a.Record.CreateClinicalSystem(ctx, p, record.ClientInput{OrganisationID: orgID, Name: "Riverside community EPR", JWKS: pub})
	if err != nil {
		t.Fatal(err)
	}
	nhs := demo.PatientNHSNumbers(3)[2]
	tok, err := record.Sign(priv, record.NewLaunchClaims(cs.ID, "amir.khan@nhs.net", "RY4", nhs, "caregate", a.Clock.Now(), 2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The clinical system's page: a form that posts the token.
	form := `<!DOCTYPE html><html lang="en"><head><title>Clinical system</title></head><body><main><form method="post" action="` + srv.URL +
		`/launch"><input type="hidden" name="launch_token" value="` + tok + `"><button id="go" type="submit">Open shared care record</button></form></main></body></html>`
	epr := openTab(t, srv, "clinical system")
	for attempt, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		run(epr, "open the clinical system's page", chromedp.Navigate("data:text/html,"+url.PathEscape(form)))
		epr.wantStatus(epr.follow("#go"), want)
		if attempt == 0 {
			epr.wantPath("/record/patients/" + nhs)
			if epr.count("#launched") != 1 {
				epr.errorf("the launched view does not say it was opened from the clinical system")
			}
			if got := epr.text("#patient-nhs"); got != nhs {
				epr.errorf("launched on %q, want %q", got, nhs)
			}
		} else if !strings.Contains(epr.text("#refusal-reason"), "already been used") {
			epr.errorf("a replayed token's page says %q", epr.text("#refusal-reason"))
		}
	}
}
