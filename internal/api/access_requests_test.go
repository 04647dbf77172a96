package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// newRequests builds the access service of a stack.
func newRequests(t *testing.T, s *stack) *accessreq.Service {
	t.Helper()
	svc, err := accessreq.NewService(context.Background(), s.db, s.log, s.clk, s.users, s.orgs, notify.NewOutbox(s.clk), nil, accessreq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// principal loads a caller's current roles.
func (s *stack) principal(t *testing.T, u *auth.User) *authz.Principal {
	t.Helper()
	p, err := authz.Load(context.Background(), s.db, u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// addCaller gives an account an API token and makes it a caller of the stack.
func (s *stack) addCaller(t *testing.T, name string, u *auth.User) *caller {
	t.Helper()
	c := &caller{name: name, user: u}
	var err error
	if c.token, _, err = s.users.CreateToken(context.Background(), audit.System, u.ID, "test"); err != nil {
		t.Fatal(err)
	}
	s.as[name] = c
	return c
}

// person is a request form for someone new, with a unique e-mail address.
func (s *stack) person(typ, orgID, siteID string) accessreq.Input {
	n := s.next()
	return accessreq.Input{Type: typ, OrganisationID: orgID, SiteID: siteID, Email: fmt.Sprintf("person%d@nhs.net", n),
		GivenName: "Pat", FamilyName: fmt.Sprintf("Person%d", n), JobTitle: "Staff nurse", Role: accessreq.RoleCareProfessional,
		AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
}

func mustJSONString(t *testing.T, v any) string { return string(mustJSON(t, v)) }

// accessFixture is what the permission matrix's access-request rows act on:
// organisation 1 routes requests through its service desk, and site A has
// an authoriser (the raiser), so requests can be in every state.
type accessFixture struct {
	raiser, desk, bo *authz.Principal
	seen             *accessreq.Request // validated, of organisation 1, raised by the desk
}

var accessFixtures sync.Map // *stack → *accessFixture

func accessFix(t *testing.T, s *stack) *accessFixture {
	t.Helper()
	ctx := context.Background()
	// The rows raise new-user requests: whatever other rows did to the
	// regional suspension, these run with requests accepted.
	if _, err := s.db.Exec(ctx, `UPDATE settings SET value = '' WHERE key = 'requests_suspended'`); err != nil {
		t.Fatal(err)
	}
	if f, ok := accessFixtures.Load(s); ok {
		return f.(*accessFixture)
	}
	routing := org.RoutingServiceDesk
	if _, err := s.orgs.UpdateOrganisation(ctx, s.adminP, s.org1.ID, org.OrganisationInput{Routing: &routing}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.orgs.AppointAuthoriser(ctx, s.adminP, s.siteA.ID, org.Appointee{Email: "ward.lead@nhs.net", GivenName: "Wendy", FamilyName: "Lead"}); err != nil {
		t.Fatal(err)
	}
	raiser, err := s.users.UserByEmail(ctx, "ward.lead@nhs.net")
	if err != nil {
		t.Fatal(err)
	}
	f := &accessFixture{raiser: s.principal(t, raiser), desk: s.principal(t, s.as[serviceDesk].user), bo: s.principal(t, s.as[backOffice].user)}
	f.seen = f.raise(t, s, f.desk, s.person(accessreq.TypeNewUser, s.org1.ID, ""))
	// The member gets a record account, to see their own.
	in := s.person(accessreq.TypeNewUser, s.org1.ID, "")
	in.Email = s.as[member].user.Email
	f.complete(t, s, f.raise(t, s, f.desk, in))
	accessFixtures.Store(s, f)
	t.Cleanup(func() { accessFixtures.Delete(s) })
	return f
}

func (f *accessFixture) raise(t *testing.T, s *stack, p *authz.Principal, in accessreq.Input) *accessreq.Request {
	t.Helper()
	r, err := s.requests.Raise(context.Background(), p, in)
	if err != nil {
		t.Fatalf("raise %+v: %v", in, err)
	}
	return r
}

func (f *accessFixture) complete(t *testing.T, s *stack, r *accessreq.Request) {
	t.Helper()
	if _, err := s.requests.Complete(context.Background(), f.bo, r.ID, ""); err != nil {
		t.Fatal(err)
	}
}

// submitted is raised by site A's authoriser and waits for the service desk.
func (f *accessFixture) submitted(t *testing.T, s *stack) *accessreq.Request {
	return f.raise(t, s, f.raiser, s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID))
}

// validated is raised by the service desk, and so validated at once.
func (f *accessFixture) validated(t *testing.T, s *stack) *accessreq.Request {
	return f.raise(t, s, f.desk, s.person(accessreq.TypeNewUser, s.org1.ID, ""))
}

// addAccessRows adds the access-request routes to the permission matrix.
// Every state-changing row builds a fresh request in the state the route
// acts on, so that an allowed caller gets 2xx and a refused one 401/403.
// Where the route serves two kinds of caller at two stages (ask and reject:
// the service desk on submitted requests, the back office on validated
// ones), each caller gets the request of the stage they act at.
func addAccessRows(m map[string]access) {
	raisers := []string{siteAuthoriser, serviceDesk}
	bo := []string{backOffice}
	deskOrBO := []string{serviceDesk, backOffice}
	// raiseBody is the caller's best attempt: the authoriser (of site B)
	// raises for site B, everyone else for organisation 1.
	raiseBody := func(t *testing.T, s *stack, c *caller) string {
		accessFix(t, s)
		if c.name == siteAuthoriser {
			return mustJSONString(t, s.person(accessreq.TypeNewUser, "", s.siteB.ID))
		}
		return mustJSONString(t, s.person(accessreq.TypeNewUser, s.org1.ID, ""))
	}
	at := func(f func(t *testing.T, s *stack, c *caller) *accessreq.Request, verb, body string) func(t *testing.T, s *stack, c *caller) (string, string) {
		return func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/access-requests/" + f(t, s, c).ID + "/" + verb, body
		}
	}
	validated := func(t *testing.T, s *stack, c *caller) *accessreq.Request { return accessFix(t, s).validated(t, s) }
	submitted := func(t *testing.T, s *stack, c *caller) *accessreq.Request { return accessFix(t, s).submitted(t, s) }
	stage := func(t *testing.T, s *stack, c *caller) *accessreq.Request {
		if c.name == serviceDesk {
			return submitted(t, s, c)
		}
		return validated(t, s, c)
	}
	asked := func(t *testing.T, s *stack, c *caller) *accessreq.Request {
		f := accessFix(t, s)
		r, err := s.requests.AskForInformation(context.Background(), f.bo, f.validated(t, s).ID, "Which ward?")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rows := map[string]access{
		"GET /api/v1/access-requests": {allowed: signedIn, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			accessFix(t, s)
			return "/api/v1/access-requests?state=open&limit=5", ""
		}},
		"POST /api/v1/access-requests": {allowed: raisers, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/access-requests", raiseBody(t, s, c)
		}},
		"POST /api/v1/access-requests/bulk": {allowed: raisers, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/access-requests/bulk", `{"items":[` + raiseBody(t, s, c) + `]}`
		}},
		"POST /api/v1/access-requests/complete": {allowed: bo, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/access-requests/complete", `{"ids":["` + validated(t, s, c).ID + `"],"note":"intake"}`
		}},
		"GET /api/v1/access-requests/{id}": {allowed: orgReaders, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/access-requests/" + accessFix(t, s).seen.ID, ""
		}},
		"POST /api/v1/access-requests/{id}/validate": {allowed: []string{serviceDesk}, prep: at(submitted, "validate", `{"note":"checked"}`)},
		"POST /api/v1/access-requests/{id}/assign":   {allowed: bo, prep: at(validated, "assign", `{}`)},
		"POST /api/v1/access-requests/{id}/ask":      {allowed: deskOrBO, prep: at(stage, "ask", `{"question":"Which ward?"}`)},
		"POST /api/v1/access-requests/{id}/answer":   {allowed: []string{serviceDesk}, prep: at(asked, "answer", `{"answer":"Ward 1"}`)},
		"POST /api/v1/access-requests/{id}/cancel":   {allowed: []string{serviceDesk}, prep: at(validated, "cancel", `{"reason":"raised twice"}`)},
		"POST /api/v1/access-requests/{id}/reject":   {allowed: deskOrBO, prep: at(stage, "reject", `{"reason":"not direct care"}`)},
		"POST /api/v1/access-requests/{id}/complete": {allowed: bo, prep: at(validated, "complete", "")},
		"GET /api/v1/users/{id}/record-account": {allowed: []string{member, backOffice, privacyOfficer, admin},
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				accessFix(t, s)
				return "/api/v1/users/" + s.as[member].user.ID + "/record-account", ""
			}},
	}
	for k, v := range rows {
		m[k] = v
	}
}

// call sends a request as the named caller (token) and checks the status
// and, for errors, the problem shape.
func (s *stack) call(t *testing.T, as, method, path, body string, status int, want map[string]any) *resp {
	t.Helper()
	r := s.do(t, method, path, s.as[as], tokenMode, body)
	label := as + ": " + method + " " + path
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", label, r.status, status, r.body)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q", label, ct)
		}
		checkJSON(t, r, map[string]any{"status": status, "code": present{}, "detail": present{}}, label)
	}
	checkJSON(t, r, want, label)
	return r
}

func str(r *resp, path string) string {
	v, _ := jget(map[string]any(r.json), path)
	s, _ := v.(string)
	return s
}

// outbox lists the messages queued about a request: kind → recipients.
func (s *stack) outbox(t *testing.T, requestID string) map[string][]string {
	t.Helper()
	rows, err := s.db.Query(context.Background(), `SELECT kind, to_addr FROM outbox WHERE related_type = 'access_request' AND related_id = ?`, requestID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var k, to string
		if err := rows.Scan(&k, &to); err != nil {
			t.Fatal(err)
		}
		out[k] = append(out[k], to)
	}
	return out
}

// TestAccessRequestsAPI drives the access-request lifecycle through the API:
// routing both ways, every transition and illegal ones, bad input, duplicates,
// suspension, bulk raising and completion, record accounts, credentials in two
// e-mails, and deactivation ending the person's API access at once.
func TestAccessRequestsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		ctx := context.Background()
		const (
			ward = "ward" // authoriser of site A (organisation 1, which the service desk validates)
			sam  = siteAuthoriser
			desk = serviceDesk
			bo   = backOffice
		)
		body := func(v any) string { return mustJSONString(t, v) }
		path := func(id string, verb ...string) string {
			return strings.Join(append([]string{"/api/v1/access-requests/" + id}, verb...), "/")
		}

		// Organisation 1's service desk validates; site A gets an authoriser.
		s.call(t, admin, "PATCH", "/api/v1/organisations/"+s.org1.ID, `{"routing":"service_desk"}`, 200, map[string]any{"routing": "service_desk"})
		s.call(t, admin, "POST", "/api/v1/sites/"+s.siteA.ID+"/authorisers", `{"email":"ward.lead@nhs.net","given_name":"Wendy","family_name":"Lead"}`, 201, nil)
		wardUser, err := s.users.UserByEmail(ctx, "ward.lead@nhs.net")
		if err != nil {
			t.Fatal(err)
		}
		s.addCaller(t, ward, wardUser)

		// Routing by a site authoriser: validated at once, the SLA running.
		in := accessreq.Input{Type: accessreq.TypeNewUser, SiteID: s.siteB.ID, Email: "Ann.Able@NHS.net", GivenName: "Ann", FamilyName: "Able",
			JobTitle: "GP", Role: accessreq.RoleCareProfessional, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
		r := s.call(t, sam, "POST", "/api/v1/access-requests", body(in), 201, map[string]any{
			"state": "validated", "organisation_id": s.org2.ID, "email": "ann.able@nhs.net", "title": "Shared Care Record (starter) Ann Able",
			"due_at": present{}, "validated_at": present{}, "validated_by": s.as[sam].user.ID, "ref": present{}, "overdue": false})
		ann := str(r, "id")
		if loc := r.header.Get("Location"); loc != "/api/v1/access-requests/"+ann {
			t.Errorf("Location %q", loc)
		}
		validatedAt, _ := time.Parse(time.RFC3339Nano, str(r, "validated_at"))
		due, _ := time.Parse(time.RFC3339Nano, str(r, "due_at"))
		if want := s.requests.Calendar().AddWorkingDays(validatedAt, 5); !due.Equal(want.Truncate(time.Microsecond)) && !due.Equal(want) {
			t.Errorf("due_at %v, want 5 working days after %v: %v", due, validatedAt, want)
		}
		r = s.call(t, sam, "GET", path(ann), "", 200, map[string]any{"id": ann, "history": length{2}, "history.0.actor": present{}})
		checkJSON(t, r, map[string]any{"history": itemWith{"to_state", "validated"}}, "history")

		// Routing by the service desk: submitted, then validated by the desk.
		in = accessreq.Input{Type: accessreq.TypeNewUser, OrganisationID: s.org1.ID, SiteID: s.siteA.ID, Email: "ben.bloggs@nhs.net",
			GivenName: "Ben", FamilyName: "Bloggs", JobTitle: "Staff nurse", Role: accessreq.RoleCareProfessional,
			AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
		r = s.call(t, ward, "POST", "/api/v1/access-requests", body(in), 201, map[string]any{"state": "submitted", "due_at": nil, "site_id": s.siteA.ID})
		ben := str(r, "id")
		benRef := str(r, "ref")
		s.call(t, bo, "POST", path(ben, "complete"), "", 409, map[string]any{"detail": "Request " + benRef + " is submitted, so it cannot be completed"})
		s.call(t, bo, "POST", path(ben, "assign"), "", 409, map[string]any{"detail": contains{"cannot be assigned"}})
		s.call(t, sam, "POST", path(ben, "validate"), "", 403, nil)
		s.call(t, bo, "POST", path(ben, "validate"), "", 403, map[string]any{"detail": contains{"service desk"}})
		s.call(t, desk, "POST", path(ben, "validate"), `{"note":"Checked with HR"}`, 200, map[string]any{"state": "validated", "due_at": present{}, "validated_by": s.as[desk].user.ID})
		s.call(t, desk, "POST", path(ben, "validate"), `{}`, 409, map[string]any{"code": "conflict", "detail": "Request " + benRef + " is validated, so it cannot be validated"})
		s.call(t, desk, "POST", path(ben, "validate"), `{"colour":"blue"}`, 400, map[string]any{"errors.0.field": "colour"})
		s.call(t, ward, "GET", path(benRef), "", 200, map[string]any{"id": ben, "state": "validated", "history": length{2},
			"history.1.note": "Checked with HR", "history.1.from_state": "submitted"})

		// The back office takes it, asks, gets an answer, completes.
		s.call(t, bo, "POST", path(ben, "assign"), "", 200, map[string]any{"state": "in_progress", "assigned_to": s.as[bo].user.ID})
		s.call(t, bo, "POST", path(ben, "assign"), `{"assignee":"`+s.as[member].user.ID+`"}`, 400, map[string]any{"errors.0.field": "assignee"})
		s.call(t, bo, "POST", path(ben, "ask"), `{"question":""}`, 400, map[string]any{"errors.0.field": "question"})
		s.call(t, bo, "POST", path(ben, "ask"), "", 400, map[string]any{"detail": contains{"empty"}})
		s.call(t, bo, "POST", path(ben, "ask"), `{"question":"Which ward does Ben work on?"}`, 200,
			map[string]any{"state": "needs_information", "question": "Which ward does Ben work on?"})
		s.call(t, bo, "POST", path(ben, "complete"), "", 409, map[string]any{"detail": contains{"waiting for information"}})
		s.call(t, bo, "POST", path(ben, "ask"), `{"question":"Again?"}`, 409, nil)
		s.call(t, sam, "POST", path(ben, "answer"), `{"answer":"Ward 1"}`, 403, nil)
		s.call(t, ward, "POST", path(ben, "answer"), `{"answer":"Ward 1"}`, 200, map[string]any{"state": "in_progress", "answer": "Ward 1"})
		s.call(t, ward, "POST", path(ben, "answer"), `{"answer":"Ward 1"}`, 409, nil)
		s.call(t, ward, "POST", path(ben, "cancel"), "", 409, map[string]any{"detail": contains{"in progress, so it cannot be cancelled"}})
		s.call(t, desk, "POST", path(ben, "complete"), "", 403, nil)
		r = s.call(t, bo, "POST", path(ben, "complete"), `{"note":"Account created"}`, 200,
			map[string]any{"state": "completed", "closed_at": present{}, "resolution": "Account created", "subject_user_id": present{}})
		benID := str(r, "subject_user_id")
		// Nothing moves a closed request, and a refusal changes nothing.
		for verb, b := range map[string]string{"complete": "", "cancel": "", "assign": "", "validate": "", "ask": `{"question":"?"}`,
			"answer": `{"answer":"!"}`, "reject": `{"reason":"no"}`} {
			as := bo
			switch verb {
			case "validate":
				as = desk
			case "answer", "cancel":
				as = ward
			}
			s.call(t, as, "POST", path(ben, verb), b, 409, map[string]any{"code": "conflict", "detail": contains{"is completed, so it cannot be"}})
		}
		s.call(t, ward, "GET", path(ben), "", 200, map[string]any{"state": "completed", "resolution": "Account created", "history": length{6}})

		// The record account, and the credentials in two separate e-mails.
		s.call(t, bo, "GET", "/api/v1/users/"+benID+"/record-account", "", 200, map[string]any{"user_id": benID, "status": "active",
			"role": "care_professional", "username": "bbloggs", "organisation_id": s.org1.ID, "activated_at": present{}, "last_used_at": nil})
		mail := s.outbox(t, ben)
		if got := mail["credentials_username"]; len(got) != 1 || got[0] != "ben.bloggs@nhs.net" {
			t.Errorf("user name e-mail to %v", got)
		}
		if got := mail["credentials_password"]; len(got) != 1 || got[0] != "ben.bloggs@nhs.net" {
			t.Errorf("password e-mail to %v", got)
		}
		if got := mail["request_completed"]; len(got) != 1 || got[0] != "ward.lead@nhs.net" {
			t.Errorf("resolution e-mail to %v (outbox %v)", got, mail)
		}
		benUser, err := s.users.User(ctx, benID)
		if err != nil {
			t.Fatal(err)
		}
		s.addCaller(t, "ben", benUser)
		s.call(t, "ben", "GET", "/api/v1/users/"+benID+"/record-account", "", 200, map[string]any{"username": "bbloggs"})
		s.call(t, "ben", "GET", path(ben), "", 200, map[string]any{"id": ben})
		s.call(t, privacyOfficer, "GET", "/api/v1/users/"+benID+"/record-account", "", 200, nil)
		s.call(t, desk, "GET", "/api/v1/users/"+benID+"/record-account", "", 403, nil)
		s.call(t, member, "GET", "/api/v1/users/"+benID+"/record-account", "", 403, nil)
		s.call(t, admin, "GET", "/api/v1/users/"+s.as[member].user.ID+"/record-account", "", 404, map[string]any{"detail": "This person has no record account"})
		s.call(t, member, "GET", "/api/v1/users/"+s.as[member].user.ID+"/record-account", "", 404, nil)
		s.call(t, member, "GET", path(ben), "", 403, nil)
		s.call(t, bo, "GET", path("R-NOSUCH"), "", 404, map[string]any{"detail": "No such request"})

		// The nominated individual receives the password instead.
		s.call(t, admin, "PATCH", "/api/v1/organisations/"+s.org1.ID, `{"password_recipient":"it.lead@nhs.net"}`, 200, nil)
		r = s.call(t, desk, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, "")), 201, map[string]any{"state": "validated"})
		nominated, nominee := str(r, "id"), str(r, "email")
		s.call(t, bo, "POST", path(nominated, "complete"), "", 200, map[string]any{"state": "completed"})
		mail = s.outbox(t, nominated)
		if u, p := mail["credentials_username"], mail["credentials_password"]; len(u) != 1 || u[0] != nominee || len(p) != 1 || p[0] != "it.lead@nhs.net" {
			t.Errorf("with a nominated individual: user name to %v, password to %v", u, p)
		}

		// The desk asks while validating; rejection; cancellation.
		r = s.call(t, ward, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)), 201, nil)
		cat := str(r, "id")
		s.call(t, bo, "POST", path(cat, "ask"), `{"question":"?"}`, 403, map[string]any{"detail": "You cannot ask for information on this request"})
		s.call(t, desk, "POST", path(cat, "ask"), `{"question":"Is this a locum?"}`, 200, map[string]any{"state": "needs_information"})
		s.call(t, ward, "POST", path(cat, "answer"), `{"answer":"No"}`, 200, map[string]any{"state": "submitted", "due_at": nil})
		s.call(t, desk, "POST", path(cat, "reject"), `{}`, 400, map[string]any{"errors.0.field": "reason"})
		s.call(t, bo, "POST", path(cat, "reject"), `{"reason":"No"}`, 403, nil)
		s.call(t, desk, "POST", path(cat, "reject"), `{"reason":"Not direct care"}`, 200, map[string]any{"state": "rejected", "resolution": "Not direct care", "closed_at": present{}})
		if got := s.outbox(t, cat)["request_rejected"]; len(got) != 1 || got[0] != "ward.lead@nhs.net" {
			t.Errorf("rejection e-mail to %v", got)
		}
		r = s.call(t, ward, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)), 201, nil)
		dan := str(r, "id")
		s.call(t, sam, "POST", path(dan, "cancel"), "", 403, nil)
		s.call(t, ward, "POST", path(dan, "cancel"), `{"reason":"Raised twice"}`, 200, map[string]any{"state": "cancelled", "resolution": "Raised twice"})
		s.call(t, desk, "POST", path(dan, "validate"), "", 409, map[string]any{"detail": contains{"is cancelled, so it cannot be validated"}})
		s.call(t, desk, "POST", path(dan, "reject"), `{"reason":"x"}`, 409, nil)

		// Bad input: field errors, all at once, and nothing raised.
		bad := in
		bad.Email, bad.GivenName, bad.FinishingDate = "ben@gmail.com", "Benjamin", "2020-01-31"
		bad.AttestDirectCare, bad.AttestToldMisuse, bad.AttestIGTraining = false, false, false
		s.call(t, ward, "POST", "/api/v1/access-requests", body(bad), 400, map[string]any{"code": "invalid", "detail": "5 fields need correcting",
			"errors": itemWith{"field", "email"}, "errors.0.message": contains{"allowed domains: nhs.net, gov.uk"}})
		r = s.call(t, ward, "POST", "/api/v1/access-requests", body(bad), 400, nil)
		for _, f := range []string{"email", "finishing_date", "attest_direct_care", "attest_told_misuse", "attest_ig_training"} {
			checkJSON(t, r, map[string]any{"errors": itemWith{"field", f}}, "bad request form")
		}
		s.call(t, ward, "POST", "/api/v1/access-requests", `{"type":"new_user","organisation_id":"nope"}`, 400, map[string]any{"errors.0.field": "organisation_id"})
		s.call(t, ward, "POST", "/api/v1/access-requests", `{"type":"new_user","attest_ig_training":"yes"}`, 400,
			map[string]any{"errors.0.field": "attest_ig_training"})
		s.call(t, ward, "POST", "/api/v1/access-requests", `{"type":"new_user","shoe_size":9}`, 400, map[string]any{"errors.0.field": "shoe_size"})
		s.call(t, ward, "GET", "/api/v1/access-requests?q=benjamin", "", 200, map[string]any{"items": length{0}})

		// Duplicates.
		dup := s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)
		s.call(t, ward, "POST", "/api/v1/access-requests", body(dup), 201, nil)
		s.call(t, desk, "POST", "/api/v1/access-requests", body(dup), 409, map[string]any{"detail": "There is already an open request for " + dup.Email + "; wait for it to finish or cancel it first"})
		again := in // Ben has a record account now
		s.call(t, ward, "POST", "/api/v1/access-requests", body(again), 409, map[string]any{"detail": contains{"already has a record account (active)"}})
		again.Type = accessreq.TypeReactivation
		s.call(t, ward, "POST", "/api/v1/access-requests", body(again), 409, map[string]any{"detail": contains{"not deactivated"}})

		// Only authorisers of the site and the organisation's service desk raise.
		s.call(t, sam, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)), 403,
			map[string]any{"detail": contains{"Only a site authoriser of the site or the organisation's service desk"}})
		s.call(t, sam, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, s.siteB.ID)), 400, map[string]any{"errors.0.field": "site_id"}) // a site of another organisation
		s.call(t, member, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)), 403, nil)
		s.call(t, bo, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, "")), 403, nil)
		s.call(t, admin, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, "")), 403, nil)

		// Suspension refuses new users with the programme's message; changes
		// for existing members go on.
		for k, v := range map[string]string{"requests_suspended": "1", "requests_suspended_message": "New requests are paused until the August intake is onboarded."} {
			if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				t.Fatal(err)
			}
		}
		s.call(t, ward, "POST", "/api/v1/access-requests", body(s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)), 409,
			map[string]any{"detail": "New requests are paused until the August intake is onboarded."})
		amend := in
		amend.Type, amend.Role, amend.JobTitle = accessreq.TypeAmendment, accessreq.RoleAdministrator, "Ward clerk"
		r = s.call(t, ward, "POST", "/api/v1/access-requests", body(amend), 201, map[string]any{"state": "submitted", "title": "Shared Care Record (change) Ben Bloggs",
			"subject_user_id": benID})
		amendID := str(r, "id")
		if _, err := db.Exec(ctx, `UPDATE settings SET value = '' WHERE key = 'requests_suspended'`); err != nil {
			t.Fatal(err)
		}
		s.call(t, desk, "POST", path(amendID, "validate"), "", 200, nil)
		s.call(t, bo, "POST", path(amendID, "complete"), "", 200, map[string]any{"state": "completed"})
		s.call(t, bo, "GET", "/api/v1/users/"+benID+"/record-account", "", 200, map[string]any{"role": "administrator", "status": "active"})

		// Bulk raising: each item its own result; idempotent by source key.
		items := []accessreq.Input{s.person(accessreq.TypeNewUser, "", s.siteB.ID), s.person(accessreq.TypeNewUser, "", s.siteB.ID),
			s.person(accessreq.TypeNewUser, "", s.siteB.ID), s.person(accessreq.TypeNewUser, s.org1.ID, s.siteA.ID)}
		items[0].SourceKey, items[1].SourceKey, items[2].SourceKey = "intake-2026-08/1", "intake-2026-08/2", "intake-2026-08/3"
		items[2].Email = "someone@example.com"
		items = append(items, items[0]) // the same key twice in one call
		bulk := body(map[string]any{"items": items})
		r = s.call(t, sam, "POST", "/api/v1/access-requests/bulk", bulk, 200, map[string]any{"created": 2, "existing": 1, "failed": 2, "items": length{5},
			"items.0.status": "created", "items.0.request.state": "validated", "items.0.source_key": "intake-2026-08/1",
			"items.1.status": "created", "items.2.status": "error", "items.2.error.status": 400, "items.2.error.errors.0.field": "email",
			"items.3.status": "error", "items.3.error.status": 403, "items.3.error.code": "forbidden", "items.3.request": absent{},
			"items.4.status": "existing"})
		first, second := str(r, "items.0.request.id"), str(r, "items.1.request.id")
		if str(r, "items.4.request.id") != first {
			t.Errorf("the same source key twice gave two requests: %s", r.body)
		}
		s.call(t, sam, "POST", "/api/v1/access-requests/bulk", bulk, 200, map[string]any{"created": 0, "existing": 3, "failed": 2,
			"items.0.request.id": first, "items.1.request.id": second, "items.0.status": "existing"})
		one := body(items[1])
		r = s.call(t, sam, "POST", "/api/v1/access-requests", one, 200, map[string]any{"id": second})
		if r.header.Get("Location") != "" || r.header.Get("Content-Location") != path(second) {
			t.Errorf("replayed raise: Location %q, Content-Location %q", r.header.Get("Location"), r.header.Get("Content-Location"))
		}
		s.call(t, sam, "POST", "/api/v1/access-requests/bulk", `{"items":[]}`, 400, map[string]any{"errors.0.field": "items"})
		s.call(t, sam, "POST", "/api/v1/access-requests/bulk", `[]`, 400, nil)
		s.call(t, sam, "POST", "/api/v1/access-requests/bulk", `{"items":[`+strings.Repeat(`{},`, 1000)+`{}]}`, 400,
			map[string]any{"errors.0.field": "items", "errors.0.message": contains{"at most 1,000"}})
		s.call(t, member, "POST", "/api/v1/access-requests/bulk", bulk, 403, nil)

		// Bulk completion: the rest go ahead when some cannot.
		r = s.call(t, bo, "POST", "/api/v1/access-requests/complete", body(map[string]any{"ids": []string{first, second, ben, "nope", first}, "note": "August intake"}), 200,
			map[string]any{"completed": 2, "failed." + ben: contains{"is completed, so it cannot be completed"}, "failed.nope": "No such request"})
		for _, id := range []string{first, second} {
			r = s.call(t, sam, "GET", path(id), "", 200, map[string]any{"state": "completed", "resolution": "August intake", "subject_user_id": present{}})
			s.call(t, bo, "GET", "/api/v1/users/"+str(r, "subject_user_id")+"/record-account", "", 200, map[string]any{"status": "active"})
			if m := s.outbox(t, id); len(m["credentials_username"]) != 1 || len(m["credentials_password"]) != 1 {
				t.Errorf("bulk completion of %s: outbox %v", id, m)
			}
		}
		s.call(t, bo, "POST", "/api/v1/access-requests/complete", `{"ids":[]}`, 400, map[string]any{"errors.0.field": "ids"})
		s.call(t, desk, "POST", "/api/v1/access-requests/complete", body(map[string]any{"ids": []string{ann}}), 403, nil)
		s.call(t, sam, "GET", path(ann), "", 200, map[string]any{"state": "validated"})

		// The queue: filters, scope, paging, the SLA.
		s.call(t, bo, "GET", "/api/v1/access-requests?state=open&type=new_user&organisation_id="+s.org2.ID, "", 200,
			map[string]any{"items": length{1}, "items.0.id": ann})
		s.call(t, bo, "GET", "/api/v1/access-requests?assigned_to=me", "", 200, map[string]any{"items": atLeast{4}, "items.0.assigned_to": s.as[bo].user.ID})
		s.call(t, bo, "GET", "/api/v1/access-requests?assigned_to=none&state=validated", "", 200, map[string]any{"items": itemWith{"id", ann}})
		s.call(t, bo, "GET", "/api/v1/access-requests?q=BLOGGS&type=amendment", "", 200, map[string]any{"items": length{1}, "items.0.id": amendID})
		s.call(t, bo, "GET", "/api/v1/access-requests?q="+strings.ToLower(benRef), "", 200, map[string]any{"items": length{1}, "items.0.id": ben})
		s.call(t, bo, "GET", "/api/v1/access-requests?submitted_by="+s.as[sam].user.ID+"&state=completed", "", 200, map[string]any{"items": length{2}})
		s.call(t, bo, "GET", "/api/v1/access-requests?subject_user_id="+benID, "", 200, map[string]any{"items": length{2}})
		s.call(t, sam, "GET", "/api/v1/access-requests", "", 200, map[string]any{"items": length{3}}) // site B's: Ann's and the bulk ones
		s.call(t, ward, "GET", "/api/v1/access-requests?submitted_by=me&state=cancelled", "", 200, map[string]any{"items": length{1}, "items.0.id": dan})
		s.call(t, member, "GET", "/api/v1/access-requests", "", 200, map[string]any{"items": length{0}, "next_cursor": absent{}})
		s.call(t, bo, "GET", "/api/v1/access-requests?overdue=true", "", 200, map[string]any{"items": length{0}})
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			r = s.call(t, bo, "GET", "/api/v1/access-requests?limit=3&cursor="+cursor, "", 200, nil)
			for _, it := range r.json["items"].([]any) {
				id := it.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("page %d repeats %s", pages, id)
				}
				seen[id] = true
			}
			pages++
			if cursor = str(r, "next_cursor"); cursor == "" {
				break
			}
		}
		r = s.call(t, bo, "GET", "/api/v1/access-requests?limit=500", "", 200, map[string]any{"next_cursor": absent{}})
		if n := len(r.json["items"].([]any)); n != len(seen) || pages != (n+2)/3 {
			t.Errorf("paging saw %d requests in %d pages; one page has %d", len(seen), pages, n)
		}
		r = s.call(t, bo, "GET", "/api/v1/access-requests?colour=blue&state=sleeping&limit=0&overdue=yes&type=x", "", 400,
			map[string]any{"errors": length{5}})
		checkJSON(t, r, map[string]any{"errors": itemWith{"field", "colour"}}, "unknown parameter")
		s.call(t, bo, "GET", "/api/v1/access-requests?cursor=garbage", "", 400, map[string]any{"detail": "The page cursor is not valid"})
		s.call(t, bo, "GET", "/api/v1/access-requests?state=open&state=completed", "", 400, map[string]any{"errors.0.field": "state"})

		// Deactivation, reactivation and deletion; deactivation and deletion
		// end the person's API tokens and sessions at once.
		benToken := s.as["ben"]
		s.call(t, "ben", "GET", "/api/v1/me", "", 200, nil)
		deact := in
		deact.Type, deact.Reason = accessreq.TypeDeactivation, "maternity_leave"
		r = s.call(t, ward, "POST", "/api/v1/access-requests", body(deact), 201, map[string]any{"title": "Shared Care Record (change) Ben Bloggs"})
		s.call(t, desk, "POST", path(str(r, "id"), "validate"), "", 200, nil)
		s.call(t, "ben", "GET", "/api/v1/me", "", 200, nil)
		s.call(t, bo, "POST", path(str(r, "id"), "complete"), "", 200, nil)
		s.call(t, "ben", "GET", "/api/v1/me", "", 401, map[string]any{"code": "unauthenticated"})
		if rr := s.do(t, "GET", "/api/v1/me", benToken, tokenMode, ""); rr.status != 401 {
			t.Errorf("revoked token: %d", rr.status)
		}
		s.call(t, bo, "GET", "/api/v1/users/"+benID+"/record-account", "", 200, map[string]any{"status": "deactivated", "status_reason": "maternity_leave"})
		if got := s.outbox(t, str(r, "id"))["access_changed"]; len(got) != 1 || got[0] != "ben.bloggs@nhs.net" {
			t.Errorf("access-changed e-mail to %v", got)
		}
		react := in
		react.Type = accessreq.TypeReactivation
		r = s.call(t, desk, "POST", "/api/v1/access-requests", body(react), 201, map[string]any{"state": "validated"})
		s.call(t, bo, "POST", path(str(r, "id"), "complete"), "", 200, nil)
		s.call(t, bo, "GET", "/api/v1/users/"+benID+"/record-account", "", 200, map[string]any{"status": "active", "status_reason": ""})
		del := in
		del.Type, del.LeavingDate = accessreq.TypeDeletion, "2026-07-31"
		r = s.call(t, desk, "POST", "/api/v1/access-requests", body(del), 201, map[string]any{"title": "Shared Care Record (leaver) Ben Bloggs", "reason": "leaver"})
		s.call(t, bo, "POST", path(str(r, "id"), "complete"), "", 200, nil)
		s.call(t, bo, "GET", "/api/v1/users/"+benID+"/record-account", "", 200, map[string]any{"status": "deleted", "status_reason": "leaver"})

		// The member, with a token and a full portal session, is cut off by
		// the deactivation of their record account.
		mem := in
		mem.Email, mem.GivenName, mem.FamilyName = s.as[member].user.Email, "Mel", "Tester"
		mem.SiteID = ""
		r = s.call(t, desk, "POST", "/api/v1/access-requests", body(mem), 201, nil)
		s.call(t, bo, "POST", path(str(r, "id"), "complete"), "", 200, nil)
		s.call(t, member, "GET", "/api/v1/users/"+s.as[member].user.ID+"/record-account", "", 200, map[string]any{"status": "active"})
		if mail := s.outbox(t, str(r, "id")); len(mail["credentials_password"]) != 0 {
			t.Errorf("someone who already signs in got a one-time password: %v", mail)
		}
		mem.Type, mem.Reason = accessreq.TypeDeactivation, "long_term_sickness"
		r = s.call(t, desk, "POST", "/api/v1/access-requests", body(mem), 201, nil)
		if rr := s.do(t, "GET", "/api/v1/me", s.as[member], sessionMode, ""); rr.status != 200 {
			t.Fatalf("member session before: %d", rr.status)
		}
		s.call(t, bo, "POST", path(str(r, "id"), "complete"), "", 200, nil)
		s.call(t, member, "GET", "/api/v1/me", "", 401, nil)
		if rr := s.do(t, "GET", "/api/v1/me", s.as[member], sessionMode, ""); rr.status != 401 {
			t.Errorf("member session after deactivation: %d %s", rr.status, rr.body)
		}

		// Time passes: the SLA runs out (sessions too, so this comes last).
		s.clk.Advance(14 * 24 * time.Hour) // past five working days, even over Christmas
		s.call(t, bo, "GET", "/api/v1/access-requests?overdue=true", "", 200, map[string]any{"items": length{1}, "items.0.id": ann, "items.0.overdue": true})
		s.call(t, sam, "GET", path(ann), "", 200, map[string]any{"overdue": true})
		s.call(t, bo, "GET", "/api/v1/access-requests?overdue=true&organisation_id="+s.org1.ID, "", 200, map[string]any{"items": length{0}})

		if n, err := audit.Verify(ctx, db); err != nil {
			t.Errorf("audit trail (%d events): %v", n, err)
		}
		// Every transition is in the audit trail.
		rows, err := db.Query(ctx, `SELECT DISTINCT action FROM audit_events WHERE action LIKE 'access_request.%' OR action LIKE 'record_account.%'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		actions := map[string]bool{}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			actions[a] = true
		}
		for _, verb := range []string{"submit", "validate", "assign", "ask", "answer", "cancel", "reject", "complete"} {
			if !actions["access_request."+verb] {
				t.Errorf("no access_request.%s in the audit trail (%v)", verb, actions)
			}
		}
		for _, change := range []string{"grant", "amend", "active", "deactivated", "deleted"} {
			if !actions["record_account."+change] {
				t.Errorf("no record_account.%s in the audit trail (%v)", change, actions)
			}
		}
	})
}

// TestAccessRequestsOpenAPI checks the access-request part of the document:
// request bodies are strict, the detail carries its history beside the
// request's own fields, and the queue's filters are listed.
func TestAccessRequestsOpenAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		r := s.do(t, "GET", "/api/v1/openapi.json", nil, tokenMode, "")
		checkJSON(t, r, map[string]any{
			"components.schemas.Input.additionalProperties":                             false,
			"components.schemas.Input.properties.attest_ig_training.type":               "boolean",
			"components.schemas.Request.required":                                       contains{"state"},
			"components.schemas.Request.properties.due_at.anyOf":                        length{2},
			"components.schemas.RequestDetail.properties.history.items.$ref":            "#/components/schemas/RequestEvent",
			"components.schemas.RequestDetail.properties.state.type":                    "string",
			"components.schemas.RequestDetail.required":                                 contains{"history"},
			"components.schemas.BulkRaise.properties.items.items.$ref":                  "#/components/schemas/Input",
			"components.schemas.BulkRaiseResult.properties.items.items.$ref":            "#/components/schemas/BulkRaiseItem",
			"components.schemas.BulkResult.properties.failed.additionalProperties.type": "string",
			"components.schemas.RecordAccount.required":                                 contains{"status_reason"},
		}, "openapi")
		params, _ := dig(r.json, "paths", "/api/v1/access-requests", "get", "parameters")
		if p, _ := params.([]any); len(p) != 10 {
			t.Errorf("the queue documents %d parameters, want 10", len(p))
		}
		for _, verb := range []string{"validate", "assign", "cancel", "complete"} {
			if req, _ := dig(r.json, "paths", "/api/v1/access-requests/{id}/"+verb, "post", "requestBody", "required"); req != false {
				t.Errorf("%s: body required %v, want optional", verb, req)
			}
		}
		if _, ok := dig(r.json, "paths", "/api/v1/access-requests", "post", "responses", "201", "headers", "Location"); !ok {
			t.Error("raise documents no Location")
		}
		var doc map[string]any
		_ = json.Unmarshal(r.body, &doc)
		if doc == nil {
			t.Fatal("no document")
		}
	})
}

// TestBulkRaiseLimit sends the largest batch the API takes, full-size
// request forms for 1,000 people: it fits the body limit, and every item gets
// its own result in order. All but two are refused by validation, which
// keeps the test quick; the lead's benchmark measures raising at volume.
func TestBulkRaiseLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		items := make([]accessreq.Input, 1000)
		for i := range items {
			items[i] = s.person(accessreq.TypeNewUser, "", s.siteB.ID)
			items[i].SourceKey = fmt.Sprintf("intake-2026-08/%04d", i)
			items[i].Notes = "Foundation year 1 doctor, August rotation"
			if i != 0 && i != 999 {
				items[i].Email = strings.Replace(items[i].Email, "nhs.net", "example.com", 1)
			}
		}
		b := mustJSONString(t, map[string]any{"items": items})
		r := s.call(t, siteAuthoriser, "POST", "/api/v1/access-requests/bulk", b, 200, map[string]any{"created": 2, "failed": 998, "items": length{1000},
			"items.0.status": "created", "items.1.status": "error", "items.1.error.errors.0.field": "email", "items.999.status": "created",
			"items.999.index": 999, "items.999.source_key": "intake-2026-08/0999"})
		ids := []string{str(r, "items.0.request.id"), str(r, "items.999.request.id")}
		s.call(t, backOffice, "POST", "/api/v1/access-requests/complete", mustJSONString(t, map[string]any{"ids": ids}), 200,
			map[string]any{"completed": 2})
		t.Logf("a 1,000-item body is %d bytes", len(b))
	})
}
