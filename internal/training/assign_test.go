package training_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/training"
)

// Rules assign modules by organisation, job category and record role, each
// or any; every assigned module says why; a rule change applies at once.
func TestAssignmentRulesAndReasons(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		mk := func(title string) *training.Module {
			m := must(w.svc.CreateModule(w.ctx, w.admin, content(title, 1, 0), training.SettingsInput{}))(t)
			return must(w.svc.Publish(w.ctx, w.admin, m.ID))(t)
		}
		intro, nursing, clinical, trust := mk("Introduction"), mk("Nursing records"), mk("Reading the record"), mk("Trust policies")
		rule := func(m *training.Module, orgID, category, role string) *training.Rule {
			return must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: m.ID, OrganisationID: orgID, JobCategory: category, RecordRole: role}))(t)
		}
		rule(intro, "", "", "")
		nursingRule := rule(nursing, w.riverside.ID, "Nursing and midwifery", "")
		rule(nursing, "", "Allied health professionals", "")
		rule(clinical, "", "", access.RoleCareProfessional)
		rule(trust, w.northgate.ID, "", "")

		nurse := w.member("nurse@nhs.net", w.nursing, "Nursing and Midwifery") // categories match without regard to case
		clerk := w.member("clerk@nhs.net", w.emergency, "Administrative and clerical")
		w.grant(clerk, access.RoleAdministrator)

		reasons := func(o *training.Overview) map[string]string {
			out := map[string]string{}
			for _, a := range o.Modules {
				out[a.Title] = strings.Join(a.Reasons, "; ")
			}
			return out
		}
		got := reasons(w.mine(nurse))
		want := map[string]string{
			"Introduction":       "assigned to everyone",
			"Nursing records":    "assigned to Nursing and midwifery at Riverside Community Health",
			"Reading the record": "assigned to everyone with the Care Professional role",
		}
		if !equalMaps(got, want) {
			t.Errorf("nurse's assignments:\n got %v\nwant %v", got, want)
		}
		got = reasons(w.mine(clerk))
		want = map[string]string{
			"Introduction":   "assigned to everyone",
			"Trust policies": "assigned to everyone at Northgate Hospitals",
		}
		if !equalMaps(got, want) {
			t.Errorf("clerk (Administrator role) assignments:\n got %v\nwant %v", got, want)
		}

		// A second membership adds what its organisation's rules assign;
		// two rules assigning one module give both reasons.
		w.join(nurse, w.emergency, "Allied health professionals")
		got = reasons(w.mine(nurse))
		if got["Trust policies"] != "assigned to everyone at Northgate Hospitals" ||
			got["Nursing records"] != "assigned to Allied health professionals; assigned to Nursing and midwifery at Riverside Community Health" {
			t.Errorf("two memberships: %v", got)
		}

		// Rule changes apply at once.
		must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: clinical.ID, RecordRole: access.RoleAdministrator}))(t)
		if got := reasons(w.mine(clerk)); got["Reading the record"] != "assigned to everyone with the Administrator role" {
			t.Errorf("after adding a rule: %v", got)
		}
		if err := w.svc.RemoveRule(w.ctx, w.admin, nursingRule.ID); err != nil {
			t.Fatal(err)
		}
		if got := reasons(w.mine(nurse)); got["Nursing records"] != "assigned to Allied health professionals" {
			t.Errorf("after removing a rule: %v", got)
		}

		// The site's authoriser sees progress as completed / assigned.
		w.finish(nurse, intro, 1, 0)
		sp := must(w.svc.SiteProgress(w.ctx, w.authoriser, w.nursing.ID))(t)
		if len(sp) != 1 || sp[0].Email != "nurse@nhs.net" || sp[0].Completed != 1 || sp[0].Assigned != 4 || len(sp[0].Outstanding) != 3 ||
			sp[0].JobCategory != "Nursing and Midwifery" {
			t.Errorf("site progress: %+v", sp)
		}

		// Rules are listed with their description; duplicates and bad
		// input are refused.
		rs := must(w.svc.Rules(w.ctx, w.admin, nursing.ID))(t)
		if len(rs) != 1 || rs[0].Description != "assigned to Allied health professionals" || rs[0].ModuleTitle != "Nursing records" {
			t.Errorf("rules of a module: %+v", rs)
		}
		_, err := w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: intro.ID})
		wantCode(t, err, errs.Conflict, "the same rule twice")
		_, err = w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: nursing.ID, JobCategory: "ALLIED  health professionals"})
		wantCode(t, err, errs.Conflict, "the same rule in other case")
		_, err = w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: "nope", OrganisationID: "nope", RecordRole: "wizard", JobCategory: "<b>"})
		wantCode(t, err, errs.Invalid, "a rule with every field wrong")
		if e := errs.As(err); len(e.Fields) != 4 {
			t.Errorf("want all four fields reported at once: %+v", e.Fields)
		}
		err = w.svc.RemoveRule(w.ctx, w.admin, "nope")
		wantCode(t, err, errs.NotFound, "removing no rule")
		cats := must(w.svc.JobCategories(w.ctx, w.admin))(t)
		if !slices.Contains(cats, "Administrative and clerical") || !slices.Contains(cats, "Allied health professionals") {
			t.Errorf("job categories: %v", cats)
		}
		w.verify()
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
