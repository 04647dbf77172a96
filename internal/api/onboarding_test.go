package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// applicationBody is a complete application meeting every prerequisite but
// the one named by missing ("" for none), for organisation code ods.
func applicationBody(ods, missing string) string {
	yes := map[string]string{"provides_direct_care": "true", "hscn_connected": "true", "individual_email_accounts": "true"}
	if missing != "" {
		yes[missing] = "false"
	}
	return fmt.Sprintf(`{"name":"Applicant %s","ods_code":"%s","organisation_type":"gp_practice","size_band":"C",
		"contact_name":"Pat Manager","contact_email":"pat@nhs.net","provides_direct_care":%s,"dspt_status":"standards_met",
		"hscn_connected":%s,"individual_email_accounts":%s,"email_domains":["nhs.net"],"isa_level":"write","routing":"service_desk"}`,
		ods, ods, yes["provides_direct_care"], yes["hscn_connected"], yes["individual_email_accounts"])
}

// decisionBody is a steering group decision of a week ago.
func (s *stack) decisionBody() string {
	return `{"meeting_date":"` + s.clk.Now().AddDate(0, 0, -7).Format(time.DateOnly) + `","minutes":"Item 2: agreed."}`
}

// application brings a new application to state through the service.
func (s *stack) application(t *testing.T, state string) *onboarding.Application {
	t.Helper()
	ctx := context.Background()
	n := s.next()
	a, err := s.onboarding.Submit(ctx, s.adminP, onboarding.ApplicationInput{Name: fmt.Sprintf("Practice %d", n),
		ODSCode: fmt.Sprintf("P%05d", n), OrganisationType: "gp_practice", SizeBand: "A", ContactName: "Pat",
		ContactEmail: "pat@nhs.net", ProvidesDirectCare: true, DSPTStatus: onboarding.DSPTStandardsMet, HSCNConnected: true,
		IndividualEmailAccounts: true, EmailDomains: []string{"nhs.net"}})
	if err != nil {
		t.Fatal(err)
	}
	d := onboarding.Decision{MeetingDate: s.clk.Now().AddDate(0, 0, -7).Format(time.DateOnly), Minutes: "Agreed."}
	if state == onboarding.StateApproved {
		if a, err = s.onboarding.Approve(ctx, s.adminP, a.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// addOnboardingRows adds the onboarding routes to the permission matrix:
// every one is for administrators, but reading the suspension.
func addOnboardingRows(m map[string]access) {
	submitted := func(t *testing.T, s *stack, verb, body string) (string, string) {
		return "/api/v1/onboarding/applications/" + s.application(t, onboarding.StateSubmitted).ID + verb, body
	}
	m["GET /api/v1/onboarding/applications"] = access{allowed: adminOnly, path: "/api/v1/onboarding/applications?state=submitted"}
	m["POST /api/v1/onboarding/applications"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/onboarding/applications", applicationBody(fmt.Sprintf("N%05d", s.next()), "")
		}}
	m["GET /api/v1/onboarding/applications/{id}"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) { return submitted(t, s, "", "") }}
	m["PUT /api/v1/onboarding/applications/{id}"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return submitted(t, s, "", applicationBody(fmt.Sprintf("N%05d", s.next()), "hscn_connected"))
		}}
	m["POST /api/v1/onboarding/applications/{id}/approve"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return submitted(t, s, "/approve", s.decisionBody())
		}}
	m["POST /api/v1/onboarding/applications/{id}/reject"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return submitted(t, s, "/reject", s.decisionBody())
		}}
	m["POST /api/v1/onboarding/applications/{id}/go-live"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/onboarding/applications/" + s.application(t, onboarding.StateApproved).ID + "/go-live", ""
		}}
	m["GET /api/v1/onboarding/summary"] = access{allowed: adminOnly, path: "/api/v1/onboarding/summary"}
	m["GET /api/v1/size-bands"] = access{allowed: adminOnly, path: "/api/v1/size-bands"}
	m["PUT /api/v1/size-bands"] = access{allowed: adminOnly, path: "/api/v1/size-bands", body: defaultBands}
	m["GET /api/v1/suspension"] = access{allowed: signedIn, path: "/api/v1/suspension"}
	// Accepting requests (not suspending them), so that the matrix's other
	// rows may still raise new-user requests.
	m["PUT /api/v1/suspension"] = access{allowed: adminOnly, path: "/api/v1/suspension", body: `{"suspended":false}`}
}

// defaultBands is the migration's table, as a PUT /size-bands body.
const defaultBands = `{"items":[
	{"band":"A","label":"Up to 10 staff","up_to_staff":10,"implementation_cost_pence":50000,"annual_contribution_pence":25000},
	{"band":"B","label":"11 to 50 staff","up_to_staff":50,"implementation_cost_pence":150000,"annual_contribution_pence":75000},
	{"band":"C","label":"51 to 250 staff","up_to_staff":250,"implementation_cost_pence":500000,"annual_contribution_pence":250000},
	{"band":"D","label":"251 to 1,000 staff","up_to_staff":1000,"implementation_cost_pence":1250000,"annual_contribution_pence":600000},
	{"band":"E","label":"1,001 to 5,000 staff","up_to_staff":5000,"implementation_cost_pence":3000000,"annual_contribution_pence":1500000},
	{"band":"F","label":"More than 5,000 staff","up_to_staff":0,"implementation_cost_pence":6000000,"annual_contribution_pence":3000000}]}`

// TestOnboardingEndpoints drives an application from submission to go-live
// through the API, with the refusals on the way, then the cost table and
// the suspension.
func TestOnboardingEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		ad := s.as[admin]
		do := func(method, path, body string, as *caller) *resp {
			t.Helper()
			return s.do(t, method, path, as, tokenMode, body)
		}
		want := func(r *resp, status int, w map[string]any, label string) {
			t.Helper()
			if r.status != status {
				t.Fatalf("%s: status %d, want %d; %s", label, r.status, status, r.body)
			}
			checkJSON(t, r, w, label)
		}

		// Bad input: problem+json naming the fields.
		r := do("POST", "/api/v1/onboarding/applications", `{"name":"","ods_code":"X","size_band":"Z","dspt_status":"great"}`, ad)
		want(r, 400, map[string]any{"code": "invalid", "errors": itemWith{"field", "ods_code"}}, "bad application")
		checkJSON(t, r, map[string]any{"errors": itemWith{"field", "dspt_status"}}, "bad application")
		r = do("POST", "/api/v1/onboarding/applications", `{"name":"x","hscn":true}`, ad)
		want(r, 400, map[string]any{"errors": itemWith{"field", "hscn"}}, "unknown field")

		// Missing HSCN: recorded (201), flagged, approval refused.
		r = do("POST", "/api/v1/onboarding/applications", applicationBody("B82001", "hscn_connected"), ad)
		want(r, 201, map[string]any{"state": "submitted", "ods_code": "B82001", "unmet_prerequisites": length{1},
			"implementation_cost_pence": 500000, "annual_contribution_pence": 250000, "decided_at": nil, "submitted_by": "admin@nhs.net"}, "submit")
		id := r.json["id"].(string)
		if loc := r.header.Get("Location"); loc != "/api/v1/onboarding/applications/"+id {
			t.Errorf("Location %q", loc)
		}
		app := "/api/v1/onboarding/applications/" + id
		r = do("POST", app+"/approve", s.decisionBody(), ad)
		want(r, 409, map[string]any{"code": "conflict", "detail": contains{"HSCN"}}, "approve while flagged")
		r = do("POST", app+"/approve", `{"meeting_date":"2999-01-01","minutes":"x"}`, ad)
		want(r, 400, map[string]any{"errors": itemWith{"field", "meeting_date"}}, "future meeting")
		r = do("POST", app+"/go-live", "", ad)
		want(r, 409, map[string]any{"detail": contains{"waiting for the IG steering group"}}, "go live before approval")

		// Corrected, approved, live (twice: one organisation).
		r = do("PUT", app, applicationBody("B82001", ""), ad)
		want(r, 200, map[string]any{"unmet_prerequisites": length{0}}, "correct")
		r = do("POST", app+"/approve", s.decisionBody(), ad)
		want(r, 200, map[string]any{"state": "approved", "minutes": "Item 2: agreed.", "decided_by": "admin@nhs.net", "decided_at": present{}}, "approve")
		r = do("POST", app+"/reject", s.decisionBody(), ad)
		want(r, 409, map[string]any{"detail": contains{"already been approved"}}, "reject after approval")
		r = do("POST", app+"/go-live", "", ad)
		want(r, 200, map[string]any{"state": "live", "organisation_id": present{}, "live_at": present{}}, "go live")
		orgID := r.json["organisation_id"]
		r = do("POST", app+"/go-live", "", ad)
		want(r, 200, map[string]any{"state": "live", "organisation_id": orgID}, "go live again")
		r = do("GET", fmt.Sprint("/api/v1/organisations/", orgID), "", ad)
		want(r, 200, map[string]any{"ods_code": "B82001", "isa_level": "write", "routing": "service_desk"}, "the new organisation")
		r = do("GET", "/api/v1/onboarding/applications?state=live", "", ad)
		want(r, 200, map[string]any{"items": length{1}, "items.0.id": id}, "live applications")
		r = do("GET", "/api/v1/onboarding/applications?state=open", "", ad)
		want(r, 400, map[string]any{"errors": itemWith{"field", "state"}}, "unknown state")
		r = do("GET", "/api/v1/onboarding/summary", "", ad)
		want(r, 200, map[string]any{"live": 1, "live_implementation_pence": 500000, "live_annual_contribution_pence": 250000}, "summary")

		// The cost table.
		r = do("GET", "/api/v1/size-bands", "", ad)
		want(r, 200, map[string]any{"items": length{6}, "items.2.band": "C", "items.5.up_to_staff": 0}, "size bands")
		r = do("PUT", "/api/v1/size-bands", `{"items":[{"band":"A","label":"Everyone","up_to_staff":0,"implementation_cost_pence":1,"annual_contribution_pence":1}]}`, ad)
		want(r, 409, map[string]any{"detail": contains{"Band C cannot be removed"}}, "remove a band in use")
		r = do("PUT", "/api/v1/size-bands", `{"items":[{"band":"C","label":"","up_to_staff":-1,"implementation_cost_pence":-5,"annual_contribution_pence":0}]}`, ad)
		want(r, 400, map[string]any{"errors": itemWith{"field", "items[0].implementation_cost_pence"}}, "bad band")
		r = do("PUT", "/api/v1/size-bands", `{"items":[{"band":"C","label":"Any size","up_to_staff":0,"implementation_cost_pence":100000,"annual_contribution_pence":40000}]}`, ad)
		want(r, 200, map[string]any{"items": length{1}, "items.0.annual_contribution_pence": 40000}, "new table")
		r = do("GET", app, "", ad)
		want(r, 200, map[string]any{"annual_contribution_pence": 40000}, "costs follow the table")

		// The suspension: everyone signed in reads it, only admins set it.
		r = do("PUT", "/api/v1/suspension", `{"suspended":true}`, ad)
		want(r, 400, map[string]any{"errors": itemWith{"field", "message"}}, "suspend without a message")
		r = do("PUT", "/api/v1/suspension", `{"suspended":true,"message":"Paused until July."}`, s.as[backOffice])
		want(r, 403, nil, "back office suspends")
		r = do("PUT", "/api/v1/suspension", `{"suspended":true,"message":"Paused until July."}`, ad)
		want(r, 200, map[string]any{"suspended": true, "message": "Paused until July."}, "suspend")
		r = do("GET", "/api/v1/suspension", "", s.as[member])
		want(r, 200, map[string]any{"suspended": true, "message": "Paused until July."}, "member reads the suspension")
		r = do("GET", "/api/v1/suspension", "", nil)
		want(r, 401, nil, "anonymous reads the suspension")
		r = do("PUT", "/api/v1/suspension", `{"suspended":false}`, ad)
		want(r, 200, map[string]any{"suspended": false, "message": ""}, "resume")

		// Non-administrators are refused and change nothing.
		before, err := s.onboarding.Applications(context.Background(), s.adminP, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{member, siteAuthoriser, serviceDesk, backOffice, privacyOfficer} {
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/api/v1/onboarding/applications", applicationBody("Z99999", "")},
				{"GET", app, ""},
				{"POST", app + "/reject", s.decisionBody()},
				{"PUT", "/api/v1/size-bands", defaultBands},
			} {
				if r := do(c.method, c.path, c.body, s.as[name]); r.status != 403 {
					t.Errorf("%s %s as %s: status %d, want 403", c.method, c.path, name, r.status)
				}
			}
		}
		after, _ := s.onboarding.Applications(context.Background(), s.adminP, "")
		if len(after) != len(before) || after[0].UpdatedAt != before[0].UpdatedAt {
			t.Error("refused calls changed the applications")
		}
	})
}
