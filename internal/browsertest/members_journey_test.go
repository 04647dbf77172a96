package browsertest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/training"
)

// TestMembersJourney: a site authoriser invites a new member, who accepts,
// sets up MFA and trains; the authoriser then deactivates and reactivates
// them. On a server of its own per engine, with one short training module.
func TestMembersJourney(t *testing.T) {
	needBrowser(t)
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, e)
			membersJourney(t, srv)
		})
	}
}

var inviteLink = regexp.MustCompile(`/invitations/([A-Za-z0-9_-]+)`)

func membersJourney(t *testing.T, srv *server) {
	ctx := context.Background()
	a := srv.App
	// One published module for everyone, with a one-question check.
	u, err := a.Users.UserByEmail(ctx, "priya.shah@nhs.net")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := authz.Load(ctx, a.DB, u)
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Training.CreateModule(ctx, admin, training.Content{Title: "Using the record safely", Summary: "The rules in one page.",
		Pages:     []training.PageInput{{Title: "The rules", Body: "Look only at the records of people you care for."}},
		Questions: []training.QuestionInput{{Prompt: "May you look up a friend's record?", Options: []string{"Yes", "No"}, Correct: 1}}, PassMark: 100},
		training.SettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Training.Publish(ctx, admin, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Training.AddRule(ctx, admin, training.RuleInput{ModuleID: m.ID}); err != nil {
		t.Fatal(err)
	}

	// Sarah invites a new district nurse; a wrong domain is refused first.
	sarah := openTab(t, srv, "site authoriser")
	sarah.signIn("sarah.jones@nhs.net")
	sarah.wantStatus(sarah.follow(navSites), http.StatusOK)
	href := eval[string](sarah, `Array.from(document.querySelectorAll('#sites a')).find(a => a.textContent.trim() === 'District Nursing North')?.getAttribute('href') || ''`)
	sarah.wantStatus(sarah.follow(`#sites a[href="`+href+`"]`), http.StatusOK)
	sarah.wantStatus(sarah.follow("#invite-new"), http.StatusOK)
	sarah.typeInto("#given_name", "Rosa")
	sarah.typeInto("#family_name", "Diaz")
	sarah.typeInto("#email", "rosa.diaz@gmail.com")
	sarah.typeInto("#phone", "0113 496 0999")
	sarah.typeInto("#job_title", "Community Staff Nurse")
	sarah.fill("#job_category", "Nursing and midwifery")
	sarah.click("#record_role")
	sarah.click("#ig_confirmed")
	sarah.wantStatus(sarah.follow(submitBtn), http.StatusBadRequest)
	sarah.wantErrorSummary("email")
	sarah.fill("#email", "rosa.diaz@nhs.net")
	if !eval[bool](sarah, `document.querySelector('#ig_confirmed').checked`) {
		sarah.click("#ig_confirmed")
	}
	sarah.wantStatus(sarah.follow(submitBtn), http.StatusOK)
	sarah.wantPath(href)
	if f := sarah.flash(); !strings.Contains(f, "rosa.diaz@nhs.net") {
		sarah.errorf("flash after inviting %q", f)
	}
	if sarah.count(`#invitations tr[data-email="rosa.diaz@nhs.net"]`) != 1 {
		sarah.fatalf("the pending invitations do not list Rosa")
	}

	// Rosa opens the link from her e-mail, chooses a password and sets up MFA.
	var body string
	if err := a.DB.QueryRow(ctx, `SELECT text_body FROM outbox WHERE to_addr = 'rosa.diaz@nhs.net' AND kind = 'invitation'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	token := inviteLink.FindStringSubmatch(body)
	if token == nil {
		t.Fatalf("no link in the invitation e-mail %q", body)
	}
	rosa := openTab(t, srv, "new member")
	rosa.wantStatus(rosa.open("/invitations/"+token[1]), http.StatusOK)
	if s := rosa.text("#invited-by"); !strings.Contains(s, "Sarah Jones") || !strings.Contains(s, "District Nursing North") {
		rosa.errorf("invitation page says %q", s)
	}
	const password = "Heather valley 83 kites"
	rosa.typeInto("#password", password)
	rosa.typeInto("#password_confirm", password)
	rosa.wantStatus(rosa.follow(submitBtn), http.StatusOK)
	rosa.wantPath("/signin")
	if v := rosa.value("#email"); v != "rosa.diaz@nhs.net" {
		rosa.errorf("the sign-in page has %q in the e-mail box", v)
	}
	rosa.typeInto("#password", password)
	rosa.wantStatus(rosa.follow(submitBtn), http.StatusOK)
	rosa.wantPath("/signin/enrol")
	rosa.typeInto("#code", auth.TOTPCode(rosa.text("#totp-secret"), time.Now()))
	rosa.wantStatus(rosa.follow(submitBtn), http.StatusOK)
	rosa.wantStatus(rosa.follow("#continue"), http.StatusOK)
	rosa.wantPath("/")

	// She completes her training: the page, then the check.
	rosa.wantStatus(rosa.follow(navTraining), http.StatusOK)
	rosa.wantStatus(rosa.open("/training/modules/"+m.ID), http.StatusOK)
	rosa.wantStatus(rosa.follow("#continue"), http.StatusOK)
	for rosa.count("#complete") == 1 {
		rosa.wantStatus(rosa.follow("#complete"), http.StatusOK)
	}
	if !strings.HasSuffix(rosa.path(), "/check") {
		rosa.wantStatus(rosa.open("/training/modules/"+m.ID+"/check"), http.StatusOK)
	}
	v, err := a.Training.Preview(ctx, admin, m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	rosa.click("#q-" + v.Questions[0].ID + "-1")
	rosa.wantStatus(rosa.follow("#submit-check"), http.StatusOK)
	rosa.wantStatus(rosa.open("/training"), http.StatusOK)
	if s := rosa.text("#status-line"); !strings.Contains(s, "All modules complete") {
		rosa.errorf("status line after training %q", s)
	}

	// Sarah sees her trained, then deactivates and reactivates her.
	sarah.wantStatus(sarah.open(href), http.StatusOK)
	row := `#members tr[data-email="rosa.diaz@nhs.net"]`
	if p := sarah.text(row + " .cg-training-progress"); p != "1 / 1" {
		sarah.errorf("Rosa's training progress %q, want 1 / 1", p)
	}
	sarah.wantStatus(sarah.follow(row+" a"), http.StatusOK)
	member := sarah.path()
	sarah.wantStatus(sarah.follow("#deactivate-button"), http.StatusBadRequest)
	sarah.wantErrorSummary("reason")
	sarah.click("#reason")
	sarah.wantStatus(sarah.follow("#deactivate-button"), http.StatusOK)
	sarah.wantPath(href)
	if f := sarah.flash(); !strings.Contains(f, "deactivated") {
		sarah.errorf("flash after deactivating %q", f)
	}
	if sarah.count(row) != 0 {
		sarah.errorf("a deactivated member is still listed as current")
	}
	sarah.wantStatus(sarah.follow("#membership-history"), http.StatusOK)
	if s := sarah.text(`#membership-history-table tr[data-email="rosa.diaz@nhs.net"] .cg-status`); !strings.Contains(s, "Deactivated") {
		sarah.errorf("history shows Rosa as %q", s)
	}
	sarah.wantStatus(sarah.follow(`#membership-history-table tr[data-email="rosa.diaz@nhs.net"] a[href$="#reactivate"]`), http.StatusOK)
	sarah.wantPath(member)
	for _, c := range []string{"#attest_direct_care", "#attest_told_misuse", "#attest_ig_training"} {
		sarah.click(c)
	}
	sarah.wantStatus(sarah.follow("#reactivate-button"), http.StatusOK)
	if f := sarah.flash(); !strings.Contains(f, "active member again") || !strings.Contains(f, "training is kept") {
		sarah.errorf("flash after reactivating %q", f)
	}
	if sarah.count(row) != 1 {
		sarah.errorf("Rosa is not a current member again")
	}

	// Her used link now explains itself.
	rosa.wantStatus(rosa.open("/invitations/"+token[1]), http.StatusGone)
	if s := rosa.text("#invitation-problem"); !strings.Contains(s, "already been accepted") {
		rosa.errorf("used link page says %q", s)
	}

	// Sarah invites a small intake from a file, and sees the history.
	csv := filepath.Join(t.TempDir(), "intake.csv")
	if err := os.WriteFile(csv, []byte("forename,surname,email,contact_number,job_title,job_category,record_role\n"+
		"Ada,Lovelace,ada.lovelace@nhs.net,0113 496 0301,Foundation Doctor,Medical and dental,care_professional\n"+
		"Bad,Address,bad.address@gmail.com,0113 496 0302,Foundation Doctor,Medical and dental,care_professional\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sarah.wantStatus(sarah.open(href), http.StatusOK)
	sarah.wantStatus(sarah.follow("#invite-file"), http.StatusOK)
	run(sarah, "choose the file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}))
	sarah.wantStatus(sarah.follow(submitBtn), http.StatusOK)
	if sarah.count(`#intake-rows tr[data-status="ready"]`) != 1 || sarah.count(`#intake-rows tr[data-status="error"]`) != 1 {
		sarah.fatalf("preview: %s", sarah.text("#intake-summary"))
	}
	sarah.click("#ig_confirmed")
	sarah.wantStatus(sarah.follow("#confirm-intake"), http.StatusOK)
	if f := sarah.flash(); !strings.Contains(f, "1 invitation has been sent") {
		sarah.errorf("flash after the intake %q", f)
	}
	sarah.wantStatus(sarah.open(href), http.StatusOK)
	sarah.wantStatus(sarah.follow("#invitation-history"), http.StatusOK)
	if s := sarah.text(`#invitation-history-table tr[data-email="rosa.diaz@nhs.net"] .cg-status`); !strings.Contains(s, "accepted") && !strings.Contains(s, "Accepted") {
		sarah.errorf("the invitation history shows Rosa's invitation as %q", s)
	}
}
