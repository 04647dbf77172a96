package api_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	members "github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

var tokenInMail = regexp.MustCompile(`/invitations/([A-Za-z0-9_-]+)`)

// principalOf loads a caller's principal.
func (s *stack) principalOf(t *testing.T, name string) *authz.Principal {
	t.Helper()
	p, err := authz.Load(context.Background(), s.db, s.as[name].user)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// invite makes a pending invitation to site B by its authoriser and
// returns it with the token of its link.
func (s *stack) invite(t *testing.T) (*members.Invitation, string) {
	t.Helper()
	ctx := context.Background()
	i, err := s.members.Invite(ctx, s.place(t, s.principalOf(t, siteAuthoriser), s.siteB.ID), members.InvitationInput{GivenName: "Ivy", FamilyName: "Invitee",
		Email: fmt.Sprintf("invitee%d@nhs.net", s.next()), Phone: "0113 496 0000", JobTitle: "Receptionist", JobCategory: "Administrative and clerical",
		RecordRole: accessreq.RoleAdministrator, IGConfirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	var body string
	if err := s.db.QueryRow(ctx, `SELECT text_body FROM outbox WHERE related_id = ? ORDER BY created_at DESC LIMIT 1`, i.ID).Scan(&body); err != nil {
		t.Fatal(err)
	}
	m := tokenInMail.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in %q", body)
	}
	return i, m[1]
}

// siteBMember makes a member of site B (invited and accepted).
func (s *stack) siteBMember(t *testing.T) *members.Member {
	t.Helper()
	_, token := s.invite(t)
	a, err := s.members.Accept(context.Background(), audit.Who{}, token, "Correct-horse-battery-9", "Correct-horse-battery-9")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.members.History(context.Background(), s.place(t, s.adminP, s.siteB.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.UserID == a.UserID {
			return m
		}
	}
	t.Fatal("no membership")
	return nil
}

func addMemberRows(m map[string]access) {
	authoriser := []string{siteAuthoriser}
	portal := []string{siteAuthoriser, admin}
	inv := func(verb, body string) func(t *testing.T, s *stack, c *caller) (string, string) {
		return func(t *testing.T, s *stack, c *caller) (string, string) {
			i, _ := s.invite(t)
			return "/api/v1/invitations/" + i.ID + verb, s.expand(body)
		}
	}
	mem := func(verb, body string, deactivate bool) func(t *testing.T, s *stack, c *caller) (string, string) {
		return func(t *testing.T, s *stack, c *caller) (string, string) {
			mb := s.siteBMember(t)
			if deactivate {
				if _, err := s.members.Deactivate(context.Background(), s.place(t, s.principalOf(t, siteAuthoriser), s.siteB.ID), mb.ID, "long_term_sickness", ""); err != nil {
					t.Fatal(err)
				}
			}
			return "/api/v1/sites/" + s.siteB.ID + "/memberships/" + mb.ID + verb, s.expand(body)
		}
	}
	invBody := `{"given_name":"Ivy","family_name":"Invitee","email":"new{n}@nhs.net","phone":"0113 496 0000","job_title":"Receptionist",` +
		`"job_category":"Administrative and clerical","record_role":"administrator","ig_confirmed":true}`
	m["GET /api/v1/sites/{id}/invitations"] = access{allowed: portal, path: "/api/v1/sites/{siteB}/invitations?all=true"}
	m["POST /api/v1/sites/{id}/invitations"] = access{allowed: authoriser, path: "/api/v1/sites/{siteB}/invitations", body: invBody}
	m["GET /api/v1/invitations/{id}"] = access{allowed: portal, prep: inv("", "")}
	m["PUT /api/v1/invitations/{id}"] = access{allowed: authoriser, prep: inv("", invBody)}
	m["POST /api/v1/invitations/{id}/resend"] = access{allowed: authoriser, prep: inv("/resend", "")}
	m["POST /api/v1/invitations/{id}/cancel"] = access{allowed: authoriser, prep: inv("/cancel", "")}
	m["DELETE /api/v1/invitations/{id}"] = access{allowed: authoriser, prep: inv("", "")}
	m["POST /api/v1/invitations/lookup"] = access{allowed: everyone, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
		_, token := s.invite(t)
		return "/api/v1/invitations/lookup", `{"token":"` + token + `"}`
	}}
	m["POST /api/v1/invitations/accept"] = access{allowed: everyone, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
		_, token := s.invite(t)
		return "/api/v1/invitations/accept", `{"token":"` + token + `","password":"Correct-horse-battery-9","password_confirm":"Correct-horse-battery-9"}`
	}}
	m["GET /api/v1/sites/{id}/memberships"] = access{allowed: portal, path: "/api/v1/sites/{siteB}/memberships?status=active"}
	m["GET /api/v1/sites/{id}/memberships/{mid}"] = access{allowed: portal, prep: mem("", "", false)}
	m["PATCH /api/v1/sites/{id}/memberships/{mid}"] = access{allowed: authoriser, prep: mem("", `{"job_title":"Senior Receptionist {n}"}`, false)}
	m["POST /api/v1/sites/{id}/memberships/{mid}/deactivate"] = access{allowed: authoriser, prep: mem("/deactivate", `{"reason":"maternity_leave"}`, false)}
	m["POST /api/v1/sites/{id}/memberships/{mid}/remove"] = access{allowed: authoriser, prep: mem("/remove", `{"leaving_date":"2026-11-30"}`, false)}
	m["POST /api/v1/sites/{id}/memberships/{mid}/reactivate"] = access{allowed: authoriser,
		prep: mem("/reactivate", `{"attest_direct_care":true,"attest_told_misuse":true,"attest_ig_training":true}`, true)}
	m["POST /api/v1/sites/{id}/intakes"] = access{allowed: authoriser, path: "/api/v1/sites/{siteB}/intakes",
		body: `{"file_name":"intake.csv","content":"forename,surname,email,contact_number,job_title,job_category,record_role\nAda,Intake,ada{n}@nhs.net,0113 496 0000,Doctor,Medical and dental,care_professional\n"}`}
	m["POST /api/v1/sites/{id}/intakes/{intake}/confirm"] = access{allowed: authoriser, prep: func(t *testing.T, s *stack, c *caller) (string, string) {
		in, err := s.members.PreviewIntake(context.Background(), s.place(t, s.principalOf(t, siteAuthoriser), s.siteB.ID), "f.csv",
			[]byte(s.expand("forename,surname,email,contact_number,job_title,job_category,record_role\nAda,Intake,ada{n}@nhs.net,0113 496 0000,Doctor,Medical and dental,care_professional\n")))
		if err != nil {
			t.Fatal(err)
		}
		return "/api/v1/sites/" + s.siteB.ID + "/intakes/" + in.ID + "/confirm", `{"ig_confirmed":true}`
	}}
}

// TestInvitationAPI walks the API through an invitation's life and its
// refusals.
func TestInvitationAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		body := `{"given_name":"Nina","family_name":"New","email":"nina@nhs.net","phone":"0113 496 0000","job_title":"Receptionist",` +
			`"job_category":"Administrative and clerical","record_role":"administrator","ig_confirmed":true}`
		r := s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/invitations", body, 201, map[string]any{"status": "pending", "email": "nina@nhs.net"})
		id := str(r, "id")
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/invitations", body, 409, map[string]any{"detail": contains{"already been invited"}})
		bad := strings.Replace(body, "nina@nhs.net", "nina@gmail.com", 1)
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/invitations", bad, 400, map[string]any{"errors.0.field": "email"})
		past := strings.Replace(body, `"ig_confirmed":true`, `"ig_confirmed":true,"finishing_date":"2020-01-01"`, 1)
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/invitations", strings.Replace(past, "nina@", "nora@", 1), 400, map[string]any{"errors.0.field": "finishing_date"})
		// Nor can they invite to another site (acting on its invitations: TestInvitationAPICrossSite).
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteA.ID+"/invitations", body, 403, nil)
		r = s.call(t, siteAuthoriser, "POST", "/api/v1/invitations/"+id+"/resend", "", 200, map[string]any{"send_count": float64(2)})
		s.call(t, siteAuthoriser, "POST", "/api/v1/invitations/"+id+"/cancel", "", 200, map[string]any{"status": "cancelled"})
		s.call(t, siteAuthoriser, "POST", "/api/v1/invitations/"+id+"/cancel", "", 409, nil)
		s.call(t, anonymous, "POST", "/api/v1/invitations/lookup", `{"token":"nope"}`, 404, map[string]any{"detail": contains{"invite you again"}})
		s.call(t, siteAuthoriser, "GET", "/api/v1/sites/"+s.siteB.ID+"/invitations", "", 200, map[string]any{"items": length{0}})
		s.call(t, siteAuthoriser, "GET", "/api/v1/sites/"+s.siteB.ID+"/invitations?all=true", "", 200, map[string]any{"items": length{1}, "items.0.status": "cancelled"})
		s.call(t, siteAuthoriser, "GET", "/api/v1/sites/"+s.siteB.ID+"/invitations?all=maybe", "", 400, nil)
		// An intake file with wrong headers is refused as a whole.
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/intakes", `{"file_name":"x.csv","content":"name,mail\na,b\n"}`, 400,
			map[string]any{"detail": contains{"header line"}})
		// A file saved in Windows-1252 put into the JSON as it is: refused,
		// saying how to save it, rather than its accents quietly replaced.
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/intakes", "{\"file_name\":\"x.csv\",\"content\":\"forename\nZo\xeb\n\"}", 400,
			map[string]any{"detail": contains{"CSV UTF-8"}})
		// A file over the limit is refused saying the limit in MB: within the
		// body's bound by the member service, past it before it is read whole.
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/intakes", `{"file_name":"x.csv","content":"`+strings.Repeat("x", members.MaxIntakeBytes+1)+`"}`, 400,
			map[string]any{"detail": contains{"larger than 5 MB"}, "errors.0.field": "file"})
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/intakes", `{"file_name":"x.csv","content":"`+strings.Repeat("x", 2*members.MaxIntakeBytes)+`"}`, 413,
			map[string]any{"detail": contains{"larger than 5 MB"}})
		// Removed members cannot be acted on.
		mb := s.siteBMember(t)
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/memberships/"+mb.ID+"/remove", `{"leaving_date":"2026-11-30"}`, 200, map[string]any{"member.status": "deleted"})
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteB.ID+"/memberships/"+mb.ID+"/deactivate", `{"reason":"other","notes":"x"}`, 409, map[string]any{"detail": contains{"was removed"}})
		s.call(t, siteAuthoriser, "POST", "/api/v1/sites/"+s.siteA.ID+"/memberships/"+mb.ID+"/deactivate", `{"reason":"other","notes":"x"}`, 403, nil)
	})
}

// An authoriser cannot act through the API on another site's invitation,
// nor reach another site's member through their own site's path.
func TestInvitationAPICrossSite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		ctx := context.Background()
		if _, err := s.orgs.AppointAuthoriser(ctx, s.adminP, s.siteA.ID, org.Appointee{Email: "a.lead@nhs.net", GivenName: "Ann", FamilyName: "Lead"}); err != nil {
			t.Fatal(err)
		}
		u, err := s.users.UserByEmail(ctx, "a.lead@nhs.net")
		if err != nil {
			t.Fatal(err)
		}
		aLead, err := authz.Load(ctx, db, u)
		if err != nil {
			t.Fatal(err)
		}
		i, err := s.members.Invite(ctx, s.place(t, aLead, s.siteA.ID), members.InvitationInput{GivenName: "Ivy", FamilyName: "Other", Email: "ivy.other@nhs.net",
			Phone: "0113 496 0000", JobTitle: "Nurse", JobCategory: "Nursing and midwifery", RecordRole: accessreq.RoleCareProfessional, IGConfirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		body := `{"given_name":"Ivy","family_name":"Other","email":"ivy.other@nhs.net","phone":"0113 496 0000","job_title":"Nurse",` +
			`"job_category":"Nursing and midwifery","record_role":"care_professional","ig_confirmed":true}`
		s.call(t, siteAuthoriser, "PUT", "/api/v1/invitations/"+i.ID, body, 403, nil)
		s.call(t, siteAuthoriser, "POST", "/api/v1/invitations/"+i.ID+"/resend", "", 403, nil)
		s.call(t, siteAuthoriser, "POST", "/api/v1/invitations/"+i.ID+"/cancel", "", 403, nil)
		s.call(t, siteAuthoriser, "GET", "/api/v1/invitations/"+i.ID, "", 403, nil)
		// A member of site B reached through site A's path is not there.
		mb := s.siteBMember(t)
		s.call(t, siteAuthoriser, "GET", "/api/v1/sites/"+s.siteB.ID+"/memberships/"+mb.ID, "", 200, nil)
		s.call(t, admin, "GET", "/api/v1/sites/"+s.siteA.ID+"/memberships/"+mb.ID, "", 404, nil)
		if got, _ := s.members.Invitation(ctx, s.place(t, aLead, s.siteA.ID), i.ID); got.Status != members.InvitationPending || got.SendCount != 1 {
			t.Fatalf("another site's authoriser changed the invitation: %+v", got)
		}
	})
}

// place opens a site of the authoriser's portal as p, as a handler does.
func (s *stack) place(t *testing.T, p *authz.Principal, siteID string) *members.Place {
	t.Helper()
	pl, err := s.members.Open(context.Background(), p, siteID)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}
