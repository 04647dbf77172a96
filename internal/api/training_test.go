package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
	"github.com/caregate/caregate/internal/training"
)

// trainingContent is a module's content: pages pages and, when check is
// set, a knowledge check of two questions (the right answer is option 1),
// passed with both right.
func trainingContent(title string, pages int, check bool) training.Content {
	c := training.Content{Title: title, Summary: "About " + title}
	for i := range pages {
		c.Pages = append(c.Pages, training.PageInput{Title: fmt.Sprintf("Part %d", i+1), Body: fmt.Sprintf("Page **%d** of %s.", i+1, title)})
	}
	if check {
		c.Questions = []training.QuestionInput{
			{Prompt: "Who may look at a record?", Options: []string{"Anyone", "Those caring for the patient"}, Correct: 1},
			{Prompt: "What do you report?", Options: []string{"Nothing", "Incidents and data problems"}, Correct: 1},
		}
		c.PassMark = 100
	}
	return c
}

// trainingModule creates a module through the service, publishes it unless
// draft, and assigns it to organisation 1 (the member's) unless unassigned.
func (s *stack) trainingModule(t *testing.T, pages int, check, draft, unassigned bool) *training.Module {
	t.Helper()
	ctx := context.Background()
	m, err := s.training.CreateModule(ctx, s.adminP, trainingContent(fmt.Sprintf("Module %d", s.next()), pages, check), training.SettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !draft {
		if m, err = s.training.Publish(ctx, s.adminP, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if !unassigned {
		if _, err := s.training.AddRule(ctx, s.adminP, training.RuleInput{ModuleID: m.ID, OrganisationID: s.org1.ID}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// finishPages finishes every page of an assigned module as the member.
func (s *stack) finishPages(t *testing.T, moduleID string, pages int) {
	t.Helper()
	p := s.principal(t, s.as[member].user)
	for n := 1; n <= pages; n++ {
		if _, err := s.training.CompletePage(context.Background(), p, moduleID, n); err != nil {
			t.Fatal(err)
		}
	}
}

// answers is a check body: the given option for every question of the check.
func (s *stack) answers(t *testing.T, moduleID string, option int) string {
	t.Helper()
	v, err := s.training.Check(context.Background(), s.principal(t, s.as[member].user), moduleID)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, q := range v.Questions {
		parts = append(parts, fmt.Sprintf("%q:%d", q.ID, option))
	}
	return `{"answers":{` + strings.Join(parts, ",") + `}}`
}

const moduleBody = `{"title":"Module {n}","summary":"A summary","pages":[{"title":"One","body":"Some *text*."}],"mandatory":true}`

// addTrainingRows adds the training routes to the permission matrix. The
// member's routes succeed for the member alone (the modules are assigned to
// organisation 1, where only the member works); the module detail also for
// administrators; every module is fresh, and more modules stay outstanding
// than the matrix completes, so the gate never fires here.
func addTrainingRows(m map[string]access) {
	mod := func(pages int, check, draft bool, verb string) func(t *testing.T, s *stack, c *caller) (string, string) {
		return func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/training/modules/" + s.trainingModule(t, pages, check, draft, false).ID + verb, ""
		}
	}
	withBody := func(f func(t *testing.T, s *stack, c *caller) (string, string), body string) func(t *testing.T, s *stack, c *caller) (string, string) {
		return func(t *testing.T, s *stack, c *caller) (string, string) {
			p, _ := f(t, s, c)
			return p, s.expand(body)
		}
	}
	member1 := []string{member}
	m["GET /api/v1/training"] = access{allowed: signedIn, path: "/api/v1/training"}
	m["GET /api/v1/training/modules"] = access{allowed: adminOnly, path: "/api/v1/training/modules"}
	m["POST /api/v1/training/modules"] = access{allowed: adminOnly, path: "/api/v1/training/modules", body: moduleBody}
	m["GET /api/v1/training/modules/{id}"] = access{allowed: []string{member, admin}, prep: mod(1, false, false, "")}
	m["GET /api/v1/training/modules/{id}/versions"] = access{allowed: adminOnly, prep: mod(1, false, false, "/versions")}
	m["PUT /api/v1/training/modules/{id}/content"] = access{allowed: adminOnly,
		prep: withBody(mod(1, false, true, "/content"), `{"title":"Edited {n}","summary":"S","pages":[{"title":"One","body":"New."}],"questions":[],"pass_mark":0}`)}
	m["PATCH /api/v1/training/modules/{id}/settings"] = access{allowed: adminOnly,
		prep: withBody(mod(1, false, true, "/settings"), `{"validity_months":12}`)}
	m["POST /api/v1/training/modules/{id}/publish"] = access{allowed: adminOnly, prep: mod(1, false, true, "/publish")}
	m["POST /api/v1/training/modules/{id}/discard-draft"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			md := s.trainingModule(t, 1, false, false, false)
			if _, err := s.training.EditContent(context.Background(), s.adminP, md.ID, trainingContent("Draft", 2, false)); err != nil {
				t.Fatal(err)
			}
			return "/api/v1/training/modules/" + md.ID + "/discard-draft", ""
		}}
	m["POST /api/v1/training/modules/{id}/retire"] = access{allowed: adminOnly, prep: mod(1, false, false, "/retire")}
	m["GET /api/v1/training/modules/{id}/preview"] = access{allowed: adminOnly, prep: mod(1, true, true, "/preview")}

	m["GET /api/v1/training/modules/{id}/pages/{n}"] = access{allowed: member1, prep: mod(2, false, false, "/pages/2")}
	m["POST /api/v1/training/modules/{id}/pages/{n}/complete"] = access{allowed: member1, prep: mod(2, false, false, "/pages/1/complete")}
	m["GET /api/v1/training/modules/{id}/check"] = access{allowed: member1, prep: mod(1, true, false, "/check")}
	m["POST /api/v1/training/modules/{id}/check"] = access{allowed: member1,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			s.trainingModule(t, 1, false, false, false) // stays outstanding
			md := s.trainingModule(t, 1, true, false, false)
			s.finishPages(t, md.ID, 1)
			return "/api/v1/training/modules/" + md.ID + "/check", s.answers(t, md.ID, 1)
		}}
	m["POST /api/v1/training/modules/{id}/retake"] = access{allowed: member1,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			s.trainingModule(t, 1, false, false, false) // stays outstanding
			md := s.trainingModule(t, 1, false, false, false)
			s.finishPages(t, md.ID, 1)
			return "/api/v1/training/modules/" + md.ID + "/retake", ""
		}}

	m["GET /api/v1/training/rules"] = access{allowed: adminOnly, path: "/api/v1/training/rules"}
	m["POST /api/v1/training/rules"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			md := s.trainingModule(t, 1, false, true, true)
			return "/api/v1/training/rules", `{"module_id":"` + md.ID + `","organisation_id":"` + s.org2.ID + `","job_category":"nursing"}`
		}}
	m["DELETE /api/v1/training/rules/{id}"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			md := s.trainingModule(t, 1, false, true, true)
			r, err := s.training.AddRule(context.Background(), s.adminP, training.RuleInput{ModuleID: md.ID, OrganisationID: s.org2.ID})
			if err != nil {
				t.Fatal(err)
			}
			return "/api/v1/training/rules/" + r.ID, ""
		}}
	m["GET /api/v1/training/job-categories"] = access{allowed: adminOnly, path: "/api/v1/training/job-categories"}
	m["GET /api/v1/training/report"] = access{allowed: adminOnly, path: "/api/v1/training/report"}
	m["GET /api/v1/training/report.csv"] = access{allowed: adminOnly, path: "/api/v1/training/report.csv"}

	// The authoriser is of site B: their member's training is theirs to see.
	m["GET /api/v1/sites/{id}/training"] = access{allowed: []string{siteAuthoriser, admin}, path: "/api/v1/sites/{siteB}/training"}
	m["GET /api/v1/users/{id}/training"] = access{allowed: []string{siteAuthoriser, admin},
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			u := newAccount(t, s)
			if err := s.db.InTx(context.Background(), func(tx *store.Tx) error {
				return s.orgs.AddMemberTx(context.Background(), tx, audit.System, ident.New(), s.siteB.ID, u.ID, "Receptionist", "admin_clerical")
			}); err != nil {
				t.Fatal(err)
			}
			return "/api/v1/users/" + u.ID + "/training", ""
		}}
}

// TestTrainingScenario takes a member through their assigned modules with
// the API, from the administrator's first module to the access request the
// last completion raises, with the bad input along the way.
func TestTrainingScenario(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		memberID := s.as[member].user.ID
		mods := "/api/v1/training/modules"

		// Administrators create modules; no one else may.
		intro := `{"title":"Introduction","summary":"What the record is","pages":[{"title":"Welcome","body":"Hello <script>alert(1)</script> **there**."},{"title":"Next","body":"More."}]}`
		for _, who := range []string{member, siteAuthoriser, serviceDesk, backOffice, privacyOfficer} {
			s.call(t, who, "POST", mods, intro, 403, nil)
			s.call(t, who, "GET", mods, "", 403, nil)
		}
		s.call(t, admin, "POST", mods, `{"title":"X","pages":[{"title":"P","body":"B"}],"colour":"red"}`, 400,
			map[string]any{"errors.0.field": "colour"})
		s.call(t, admin, "POST", mods, `{"title":"","pages":[]}`, 400, map[string]any{"errors": present{}})
		a := s.call(t, admin, "POST", mods, intro, 201, map[string]any{"status": "draft", "title": "Introduction", "mandatory": true, "draft_version": 1})
		aID := str(a, "id")
		if loc := a.header.Get("Location"); loc != mods+"/"+aID {
			t.Errorf("Location %q", loc)
		}
		ig := `{"title":"Information governance","summary":"Confidentiality","pages":[{"title":"Duty","body":"Keep it *confidential*."}],
			"questions":[{"prompt":"Who may look?","options":["Anyone","Those caring for the patient"],"correct":1},
				{"prompt":"Share a password?","options":["Never","Sometimes"],"correct":0}],"pass_mark":100,"validity_months":12}`
		bID := str(s.call(t, admin, "POST", mods, ig, 201, map[string]any{"validity_months": 12}), "id")

		// Assigned to organisation 1 before publication: not yet for members.
		for _, id := range []string{aID, bID} {
			s.call(t, admin, "POST", "/api/v1/training/rules", `{"module_id":"`+id+`","organisation_id":"`+s.org1.ID+`"}`, 201,
				map[string]any{"module_id": id, "description": present{}})
		}
		s.call(t, admin, "POST", "/api/v1/training/rules", `{"module_id":"`+aID+`","organisation_id":"`+s.org1.ID+`"}`, 409, nil)
		s.call(t, admin, "POST", "/api/v1/training/rules", `{"module_id":"nope"}`, 400, map[string]any{"errors.0.field": "module_id"})
		s.call(t, admin, "GET", "/api/v1/training/rules?module_id="+aID, "", 200, map[string]any{"items": length{1}})
		s.call(t, member, "GET", mods+"/"+aID+"/pages/1", "", 404, map[string]any{"detail": "No such training module"})
		s.call(t, member, "POST", mods+"/"+aID+"/pages/1/complete", "", 404, nil)
		s.call(t, member, "GET", mods+"/"+aID, "", 404, nil)
		s.call(t, member, "GET", "/api/v1/training", "", 200, map[string]any{"modules": length{0}})

		// Preview shows the script neutralised; publish both.
		pv := s.call(t, admin, "GET", mods+"/"+aID+"/preview", "", 200, map[string]any{"draft": true, "pages": length{2}})
		if h, _ := jget(map[string]any(pv.json), "pages.0.html"); strings.Contains(fmt.Sprint(h), "<script") {
			t.Errorf("preview lets a script through: %v", h)
		}
		s.call(t, admin, "GET", mods+"/"+aID+"/preview?version=x", "", 400, map[string]any{"errors.0.field": "version"})
		s.call(t, admin, "POST", mods+"/"+aID+"/publish", "", 200, map[string]any{"status": "published", "current_version": 1})
		s.call(t, admin, "POST", mods+"/"+bID+"/publish", "", 200, map[string]any{"status": "published"})
		s.call(t, admin, "POST", mods+"/"+aID+"/publish", "", 409, nil) // no draft
		s.call(t, admin, "GET", mods+"/"+aID+"/versions", "", 200, map[string]any{"items": length{1}, "items.0.current": true})

		// The member's home page: both assigned, with reasons and a status line.
		s.call(t, member, "GET", "/api/v1/training", "", 200, map[string]any{"modules": length{2}, "assigned": 2, "completed": 0,
			"all_complete": false, "status_line": present{}, "modules.0.reasons": present{}, "modules.0.percent": 0})
		s.call(t, member, "GET", mods+"/"+aID, "", 200, map[string]any{"assignment.module_id": aID, "assignment.contents": length{2},
			"module": absent{}})
		s.call(t, admin, "GET", mods+"/"+aID, "", 200, map[string]any{"module.id": aID, "assignment": absent{}})
		s.call(t, siteAuthoriser, "GET", mods+"/"+aID, "", 403, nil)
		s.call(t, member, "GET", mods+"/nope", "", 404, nil)

		// Pages: out of range, not a number, in order.
		s.call(t, member, "GET", mods+"/"+aID+"/pages/3", "", 400, nil)
		s.call(t, member, "GET", mods+"/"+aID+"/pages/0", "", 404, nil)
		s.call(t, member, "GET", mods+"/"+aID+"/pages/two", "", 404, nil)
		s.call(t, member, "POST", mods+"/"+aID+"/pages/3/complete", "", 400, nil)
		s.call(t, member, "POST", mods+"/"+aID+"/pages/1/complete", `{"page":1}`, 400, map[string]any{"errors.0.field": "page"})
		s.call(t, member, "POST", mods+"/"+aID+"/pages/2/complete", "", 409, nil) // page 1 first
		pg := s.call(t, member, "GET", mods+"/"+aID+"/pages/1", "", 200, map[string]any{"number": 1, "of": 2, "done": false, "reachable": true})
		if strings.Contains(str(pg, "html"), "<script") {
			t.Errorf("page lets a script through: %s", str(pg, "html"))
		}
		s.call(t, member, "POST", mods+"/"+aID+"/pages/1/complete", "", 200, map[string]any{"pages_done": 1, "percent": 50, "next_page": 2})
		s.call(t, member, "POST", mods+"/"+aID+"/pages/2/complete", "", 200, map[string]any{"completed": true, "percent": 100, "gate": absent{}})
		s.call(t, member, "GET", "/api/v1/training", "", 200, map[string]any{"completed": 1, "outstanding": 1, "all_complete": false})

		// The check: not before the pages, bad answers, a fail, then a pass.
		s.call(t, member, "GET", mods+"/"+bID+"/check", "", 200, map[string]any{"ready": false, "questions": length{2}, "pass_mark": 100})
		s.call(t, member, "POST", mods+"/"+bID+"/check", s.answers(t, bID, 1), 409, nil)
		s.call(t, member, "POST", mods+"/"+bID+"/pages/1/complete", "", 200, map[string]any{"check_next": true, "completed": false})
		chk := s.call(t, member, "GET", mods+"/"+bID+"/check", "", 200, map[string]any{"ready": true, "questions.0.correct": absent{}})
		q0, q1 := str(chk, "questions.0.id"), str(chk, "questions.1.id")
		bad := s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answers":{"`+q0+`":1,"`+q1+`":0,"no-such-question":1}}`, 400, nil)
		if !strings.Contains(string(bad.body), "no-such-question") {
			t.Errorf("refusal does not name the unknown question: %s", bad.body)
		}
		s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answers":{"`+q0+`":7,"`+q1+`":0}}`, 400, nil)
		s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answers":{"`+q0+`":"one"}}`, 400, nil)
		s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answer":{}}`, 400, map[string]any{"errors.0.field": "answer"})
		s.call(t, member, "GET", mods+"/"+bID+"/check", "", 200, map[string]any{"tries": 0})
		s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answers":{"`+q0+`":0,"`+q1+`":0}}`, 200,
			map[string]any{"passed": false, "score": 50, "correct." + q0: false, "correct." + q1: true, "progress.completed": false})
		s.call(t, backOffice, "GET", "/api/v1/access-requests", "", 200, map[string]any{"items": length{0}})
		pass := s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answers":{"`+q0+`":1,"`+q1+`":0}}`, 200,
			map[string]any{"passed": true, "score": 100, "progress.completed": true, "progress.gate.raised": true, "progress.gate.request_ref": present{}})
		reqID := str(pass, "progress.gate.request_id")

		// The gate raised the new-user request, once; the back office sees it.
		s.call(t, backOffice, "GET", "/api/v1/access-requests", "", 200, map[string]any{"items": length{1}, "items.0.id": reqID,
			"items.0.type": "new_user", "items.0.email": s.as[member].user.Email})
		s.call(t, member, "GET", "/api/v1/training", "", 200, map[string]any{"all_complete": true, "completed": 2, "request_ref": present{}})
		s.call(t, member, "POST", mods+"/"+bID+"/check", `{"answers":{"`+q0+`":1,"`+q1+`":0}}`, 409, nil) // complete, no retake open

		// Retake keeps the completion, and raises nothing more.
		s.call(t, member, "POST", mods+"/"+aID+"/retake", "", 200, map[string]any{"pages_done": 0})
		s.call(t, member, "POST", mods+"/"+aID+"/pages/1/complete", "", 200, nil)
		s.call(t, member, "GET", "/api/v1/training", "", 200, map[string]any{"all_complete": true, "completed": 2,
			"modules": itemWith{"retaking", "true"}})
		s.call(t, member, "POST", mods+"/"+aID+"/pages/2/complete", "", 200, map[string]any{"completed": true, "gate": absent{}})
		s.call(t, backOffice, "GET", "/api/v1/access-requests", "", 200, map[string]any{"items": length{1}})

		// Authorisers' and administrators' reports.
		s.call(t, admin, "GET", "/api/v1/sites/"+s.siteA.ID+"/training", "", 200, map[string]any{"items": length{1},
			"items.0.user_id": memberID, "items.0.completed": 2, "items.0.assigned": 2})
		s.call(t, admin, "GET", "/api/v1/users/"+memberID+"/training", "", 200, map[string]any{"completed": 2, "assigned": 2})
		s.call(t, siteAuthoriser, "GET", "/api/v1/users/"+memberID+"/training", "", 403, nil) // not their site
		s.call(t, siteAuthoriser, "GET", "/api/v1/training/report", "", 403, nil)
		s.call(t, admin, "GET", "/api/v1/training/report", "", 200, map[string]any{"items": itemWith{"module_id", aID}})
		csv := s.do(t, "GET", "/api/v1/training/report.csv", s.as[admin], tokenMode, "")
		if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(csv.body), "Information governance") {
			t.Errorf("report.csv: %d %s\n%s", csv.status, csv.header.Get("Content-Type"), csv.body)
		}

		// A module not assigned to the member; then create → publish → retire.
		c := s.call(t, admin, "POST", mods, moduleBody2, 201, nil)
		cID := str(c, "id")
		s.call(t, admin, "POST", mods+"/"+cID+"/publish", "", 200, map[string]any{"status": "published"})
		s.call(t, member, "GET", mods+"/"+cID+"/pages/1", "", 403, nil)
		s.call(t, member, "POST", mods+"/"+cID+"/pages/1/complete", "", 403, nil)
		s.call(t, member, "POST", mods+"/"+cID+"/retake", "", 403, nil)
		s.call(t, member, "POST", mods+"/"+cID+"/retire", "", 403, nil)
		s.call(t, admin, "PUT", mods+"/"+cID+"/content", `{"title":"Edited","summary":"S","pages":[{"title":"P","body":"B"}],"questions":[],"pass_mark":0}`, 200,
			map[string]any{"draft_version": 2, "current_version": 1})
		s.call(t, admin, "PATCH", mods+"/"+cID+"/settings", `{"position":3,"colour":"red"}`, 400, map[string]any{"errors.0.field": "colour"})
		s.call(t, admin, "PATCH", mods+"/"+cID+"/settings", `{"position":3}`, 200, map[string]any{"position": 3})
		s.call(t, admin, "POST", mods+"/"+cID+"/discard-draft", "", 200, map[string]any{"draft_version": 0})
		s.call(t, admin, "POST", mods+"/"+cID+"/retire", "", 200, map[string]any{"status": "retired"})
		s.call(t, admin, "POST", mods+"/"+cID+"/retire", "", 409, nil)
		s.call(t, member, "GET", mods+"/"+cID, "", 409, nil)
		s.call(t, admin, "GET", mods+"/"+cID, "", 200, map[string]any{"module.status": "retired", "assignment": absent{}})
		s.call(t, admin, "POST", "/api/v1/training/rules", `{"module_id":"`+cID+`"}`, 409, nil)
		s.call(t, admin, "GET", mods, "", 200, map[string]any{"items": length{3}, "items.2.status": "retired"})
	})
}

const moduleBody2 = `{"title":"Reporting incidents","summary":"Data problems","pages":[{"title":"How","body":"Tell the service desk."}]}`

// TestTrainingGateOnce sends the completion of a member's last page several
// times at once: every answer is a success, and exactly one new-user request
// is raised.
func TestTrainingGateOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		md := s.trainingModule(t, 1, false, false, false)
		path := "/api/v1/training/modules/" + md.ID + "/pages/1/complete"
		const n = 6
		var wg sync.WaitGroup
		got := make([]*resp, n)
		for i := range n {
			wg.Go(func() {
				mode := tokenMode
				if i%2 == 1 {
					mode = sessionMode
				}
				got[i] = s.do(t, "POST", path, s.as[member], mode, "")
			})
		}
		wg.Wait()
		raised := 0
		for i, r := range got {
			if r.status != 200 {
				t.Errorf("completion %d: %d %s", i, r.status, r.body)
				continue
			}
			checkJSON(t, r, map[string]any{"completed": true}, fmt.Sprint("completion ", i))
			if v, _ := jget(map[string]any(r.json), "gate.raised"); v == true {
				raised++
			}
		}
		if raised != 1 {
			t.Errorf("%d completions raised a request, want 1", raised)
		}
		s.call(t, backOffice, "GET", "/api/v1/access-requests", "", 200, map[string]any{"items": length{1}, "items.0.type": "new_user"})
	})
}
