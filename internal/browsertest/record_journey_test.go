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
			// an active Care Professional account at Riverside (RY4).
			if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
				t.Fatalf("demo.LoadRequests on %s: %v", e.name, err)
			}
			if err := demo.LoadPatients(ctx, a.DB, a.Record, 40, 40, nil); err != nil {
				t.Fatalf("demo.LoadPatients on %s: %v", e.name, err)
			}
			recordSearchAndView(t, srv)
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
	amir.wantStatus(amir.follow(`.nhsuk-header__navigation-link[href="/record"]`), http.StatusOK)
	amir.wantPath("/record")
	amir.typeInto("#nhs_number", nhs[:3]+" "+nhs[3:6]+" "+nhs[6:])
	amir.wantStatus(amir.follow("#search-button"), http.StatusOK)
	if n := amir.count("#results tbody tr"); n != 1 {
		amir.fatalf("%d results for an NHS number, want 1", n)
	}
	name := amir.text("#results tbody a")
	if name != demo.PatientName(0) {
		amir.errorf("the result is %q, want %q", name, demo.PatientName(0))
	}
	amir.wantStatus(amir.follow("#results tbody a"), http.StatusOK)
	amir.wantPath("/record/patients/" + nhs)
	if got := amir.text("#patient-nhs"); got != nhs {
		amir.errorf("the banner's NHS number is %q", got)
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
