package training_test

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/training"
)

// Programme administrators see completion by organisation and module, and
// export it as CSV that a spreadsheet will not run as formulas.
func TestCompletionReportAndCSV(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		intro := w.module("Introduction", 1, 0, training.SettingsInput{})
		formula := w.module("=HYPERLINK(\"https://evil.example\",\"Click\")", 2, 0, training.SettingsInput{Position: ptr(1)})
		a := w.member("a@nhs.net", w.nursing, "Nursing and midwifery")
		b := w.member("b@nhs.net", w.mentalHealth, "Nursing and midwifery")
		c := w.member("c@nhs.net", w.emergency, "Nursing and midwifery")
		w.join(c, w.nursing, "Nursing and midwifery") // counts in both organisations
		w.finish(a, intro, 1, 0)
		w.finish(c, intro, 1, 0)
		must(w.svc.CompletePage(w.ctx, b, formula.ID, 1))(t)

		rows := must(w.svc.CompletionReport(w.ctx, w.admin))(t)
		got := map[string]training.CompletionRow{}
		for _, r := range rows {
			got[r.Organisation+" / "+r.ModuleID] = r
		}
		check := func(key string, assigned, completed, inProgress, notStarted, pct int) {
			t.Helper()
			r, ok := got[key]
			if !ok || r.Assigned != assigned || r.Completed != completed || r.InProgress != inProgress || r.NotStarted != notStarted || r.Percent != pct {
				t.Errorf("%s: %+v", key, r)
			}
		}
		check("Riverside Community Health / "+intro.ID, 3, 2, 0, 1, 66)
		check("Riverside Community Health / "+formula.ID, 3, 0, 1, 2, 0)
		check("Northgate Hospitals / "+intro.ID, 1, 1, 0, 0, 100)
		check("Northgate Hospitals / "+formula.ID, 1, 0, 0, 1, 0)
		if len(rows) != 4 || rows[0].Organisation != "Northgate Hospitals" || rows[0].ModuleID != intro.ID {
			t.Errorf("report order: %+v", rows)
		}

		var b2 strings.Builder
		if err := w.svc.ExportCompletionCSV(w.ctx, w.admin, &b2); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(b2.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 5 || !slices.Equal(recs[0], training.CSVHeader) {
			t.Fatalf("CSV:\n%s", b2.String())
		}
		for _, rec := range recs[1:] {
			for _, cell := range rec {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("CSV cell starts with a formula character: %q", cell)
				}
			}
		}
		if !strings.Contains(b2.String(), `'=HYPERLINK(`) {
			t.Errorf("the formula title is not neutralised:\n%s", b2.String())
		}
	})
}

// Administrative changes and members' completions are in the audit trail,
// and the trail verifies.
func TestAuditEvents(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := must(w.svc.CreateModule(w.ctx, w.admin, content("Introduction", 1, 2), training.SettingsInput{}))(t)
		must(w.svc.Publish(w.ctx, w.admin, m.ID))(t)
		r := must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: m.ID}))(t)
		must(w.svc.UpdateSettings(w.ctx, w.admin, m.ID, training.SettingsInput{ValidityMonths: ptr(12)}))(t)
		must(w.svc.EditContent(w.ctx, w.admin, m.ID, content("Introduction", 2, 2)))(t)
		must(w.svc.DiscardDraft(w.ctx, w.admin, m.ID))(t)
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		w.finish(p, m, 1, 2)
		must(w.svc.Retake(w.ctx, p, m.ID))(t)
		other := must(w.svc.CreateModule(w.ctx, w.admin, content("Other", 1, 0), training.SettingsInput{}))(t)
		must(w.svc.Retire(w.ctx, w.admin, other.ID))(t)
		if err := w.svc.RemoveRule(w.ctx, w.admin, r.ID); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range w.actions() {
			if strings.HasPrefix(a, "training.") || a == "access_request.submit" {
				got = append(got, a)
			}
		}
		want := []string{"training.module.create", "training.module.publish", "training.rule.add", "training.module.settings",
			"training.module.edit", "training.module.discard_draft", "training.check", "training.complete", "access_request.submit",
			"training.gate", "training.retake", "training.module.create", "training.module.retire", "training.rule.remove"}
		if !slices.Equal(got, want) {
			t.Errorf("audit actions:\n got %v\nwant %v", got, want)
		}
		var actor, detail string
		if err := w.db.QueryRow(w.ctx, `SELECT actor, detail FROM audit_events WHERE action = 'training.complete'`).Scan(&actor, &detail); err != nil {
			t.Fatal(err)
		}
		if actor != "amir@nhs.net" || !strings.Contains(detail, `"version":"1"`) || !strings.Contains(detail, `"valid_until"`) {
			t.Errorf("completion event: %s %s", actor, detail)
		}
		w.verify()
	})
}
