package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/training"
)

// registerTrainingAdmin adds the programme administrators' training pages.
// The training service refuses everyone else.
func (h *Handler) registerTrainingAdmin(mux *http.ServeMux) {
	h.handle(mux, "GET /admin/training", signedIn, h.trainingModules)
	h.handle(mux, "GET /admin/training/new", signedIn, h.trainingNewForm)
	h.handle(mux, "POST /admin/training", signedIn, h.trainingCreate)
	h.handle(mux, "GET /admin/training/report", signedIn, h.trainingReport)
	h.handle(mux, "GET /admin/training/report.csv", signedIn, h.trainingReportCSV)
	h.handle(mux, "GET /admin/training/{id}", signedIn, h.trainingAdminModule)
	h.handle(mux, "GET /admin/training/{id}/edit", signedIn, h.trainingEditForm)
	h.handle(mux, "POST /admin/training/{id}/content", signedIn, h.trainingEdit)
	h.handle(mux, "POST /admin/training/{id}/settings", signedIn, h.trainingSettings)
	h.handle(mux, "GET /admin/training/{id}/preview", signedIn, h.trainingPreview)
	h.handle(mux, "POST /admin/training/{id}/publish", signedIn, h.trainingPublish)
	h.handle(mux, "POST /admin/training/{id}/discard", signedIn, h.trainingDiscard)
	h.handle(mux, "POST /admin/training/{id}/retire", signedIn, h.trainingRetire)
	h.handle(mux, "POST /admin/training/{id}/rules", signedIn, h.trainingAddRule)
	h.handle(mux, "POST /admin/training/{id}/rules/{rule}/remove", signedIn, h.trainingRemoveRule)
}

// pageSeparator divides pages in the content form's one textarea.
const pageSeparator = "---page---"

var moduleStatusTags = map[string]string{training.StatusDraft: "nhsuk-tag--grey", training.StatusPublished: "nhsuk-tag--green",
	training.StatusRetired: "nhsuk-tag--red"}

var moduleStatusLabels = map[string]string{training.StatusDraft: "Draft", training.StatusPublished: "Published",
	training.StatusRetired: "Retired"}

type moduleRow struct {
	*training.Module
	Tag, Label string
}

func (h *Handler) trainingModules(w http.ResponseWriter, r *http.Request) {
	ms, err := h.training.Modules(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([]moduleRow, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, moduleRow{Module: m, Tag: moduleStatusTags[m.Status], Label: moduleStatusLabels[m.Status]})
	}
	h.render(w, r, http.StatusOK, "training_admin", &Page{Title: "Training modules", Nav: "admin", Data: rows})
}

// contentForm is the module content form.
type contentForm struct {
	ID     string // "" for a new module
	Action string
}

func (h *Handler) trainingNewForm(w http.ResponseWriter, r *http.Request) {
	if _, err := h.training.Modules(r.Context(), principal(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "training_form", &Page{Title: "New training module", Nav: "admin",
		Data: &contentForm{Action: "/admin/training"}, Form: url.Values{"mandatory": {"yes"}, "blocks_existing": {"no"}, "validity_months": {"0"}, "pass_mark": {"0"}}})
}

// parsePages reads the pages textarea: pages separated by a line
// "---page---", each starting with its title line.
func parsePages(s string) []training.PageInput {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []training.PageInput
	var cur []string
	flush := func() {
		text := strings.Trim(strings.Join(cur, "\n"), "\n")
		cur = nil
		if strings.TrimSpace(text) == "" {
			return
		}
		title, body, _ := strings.Cut(text, "\n")
		title = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(title), "#"))
		out = append(out, training.PageInput{Title: title, Body: body})
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == pageSeparator {
			flush()
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return out
}

// parseQuestions reads the questions textarea: questions separated by a
// blank line; the first line is the question, each further line an answer,
// the right one starting with "*".
func parseQuestions(s string) []training.QuestionInput {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []training.QuestionInput
	for _, block := range strings.Split(s, "\n\n") {
		var lines []string
		for _, l := range strings.Split(block, "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		if len(lines) == 0 {
			continue
		}
		q := training.QuestionInput{Prompt: lines[0], Correct: -1}
		for _, l := range lines[1:] {
			if o, ok := strings.CutPrefix(l, "*"); ok {
				q.Correct = len(q.Options)
				l = strings.TrimSpace(o)
			}
			q.Options = append(q.Options, l)
		}
		out = append(out, q)
	}
	return out
}

// formatPages and formatQuestions write content back in the form's format.
func formatPages(pages []training.Page) string {
	var parts []string
	for _, p := range pages {
		parts = append(parts, p.Title+"\n"+p.Markdown)
	}
	return strings.Join(parts, "\n"+pageSeparator+"\n")
}

func formatQuestions(qs []training.Question) string {
	var parts []string
	for _, q := range qs {
		lines := []string{q.Prompt}
		for i, o := range q.Options {
			if i == q.Correct {
				o = "* " + o
			}
			lines = append(lines, o)
		}
		parts = append(parts, strings.Join(lines, "\n"))
	}
	return strings.Join(parts, "\n\n")
}

// formInt reads a whole number; bad text gives -1, which the service refuses.
func formInt(r *http.Request, name string) int {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

func contentInput(r *http.Request) (training.Content, error) {
	c := training.Content{Title: r.PostFormValue("title"), Summary: r.PostFormValue("summary"),
		Pages: parsePages(r.PostFormValue("pages")), Questions: parseQuestions(r.PostFormValue("questions")), PassMark: formInt(r, "pass_mark")}
	if c.PassMark < 0 {
		return c, &errs.Error{Code: errs.Invalid, Message: "Give the pass mark as a percentage from 1 to 100",
			Fields: []errs.FieldError{{Field: "pass_mark", Message: "Give the pass mark as a whole number"}}}
	}
	return c, nil
}

func settingsInput(r *http.Request) training.SettingsInput {
	var in training.SettingsInput
	if v := r.PostFormValue("mandatory"); v != "" {
		b := v == "yes"
		in.Mandatory = &b
	}
	if v := r.PostFormValue("blocks_existing"); v != "" {
		b := v == "yes"
		in.BlocksExistingAccess = &b
	}
	if _, ok := r.PostForm["validity_months"]; ok {
		n := formInt(r, "validity_months")
		in.ValidityMonths = &n
	}
	if _, ok := r.PostForm["position"]; ok {
		n := formInt(r, "position")
		in.Position = &n
	}
	return in
}

// fieldsToTextareas points errors about one page or question at the
// textarea that holds them.
func fieldsToTextareas(err error) error {
	e := errs.As(err)
	if e.Code != errs.Invalid {
		return err
	}
	c := *e
	c.Fields = nil
	seen := map[string]bool{}
	for _, f := range e.Fields {
		if name, _, ok := strings.Cut(f.Field, "["); ok {
			f.Field = name
		}
		if seen[f.Field] {
			continue
		}
		seen[f.Field] = true
		c.Fields = append(c.Fields, f)
	}
	return &c
}

func (h *Handler) trainingCreate(w http.ResponseWriter, r *http.Request) {
	pg := &Page{Title: "New training module", Nav: "admin", Data: &contentForm{Action: "/admin/training"}}
	c, err := contentInput(r)
	if err == nil {
		var m *training.Module
		if m, err = h.training.CreateModule(r.Context(), principal(r), c, settingsInput(r)); err == nil {
			h.redirect(w, r, "/admin/training/"+m.ID, "The module has been created as a draft. Preview it, then publish it.")
			return
		}
	}
	h.formError(w, r, "training_form", pg, fieldsToTextareas(err))
}

func (h *Handler) trainingEditForm(w http.ResponseWriter, r *http.Request) {
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	v, err := h.training.Preview(ctx, p, id, 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	form := url.Values{"title": {v.Title}, "summary": {v.Summary}, "pages": {formatPages(v.Pages)},
		"questions": {formatQuestions(v.Questions)}, "pass_mark": {strconv.Itoa(v.PassMark)}}
	h.render(w, r, http.StatusOK, "training_form", &Page{Title: "Edit " + v.Title, Nav: "admin",
		Data: &contentForm{ID: id, Action: "/admin/training/" + id + "/content"}, Form: form})
}

func (h *Handler) trainingEdit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	pg := &Page{Title: "Edit training module", Nav: "admin", Data: &contentForm{ID: id, Action: "/admin/training/" + id + "/content"}}
	c, err := contentInput(r)
	if err == nil {
		if _, err = h.training.EditContent(r.Context(), principal(r), id, c); err == nil {
			h.redirect(w, r, "/admin/training/"+id, "The draft has been saved. Preview it, then publish it.")
			return
		}
	}
	h.formError(w, r, "training_form", pg, fieldsToTextareas(err))
}

// moduleAdminData is a module's administration page.
type moduleAdminData struct {
	M          *training.Module
	Tag, Label string
	Versions   []training.VersionInfo
	Rules      []*training.Rule
	Orgs       []option
	Categories []string
	Roles      []option
}

func (h *Handler) trainingModuleView(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	d := &moduleAdminData{}
	var err error
	if d.M, err = h.training.Module(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	d.Tag, d.Label = moduleStatusTags[d.M.Status], moduleStatusLabels[d.M.Status]
	if d.Versions, err = h.training.Versions(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Rules, err = h.training.Rules(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Categories, err = h.training.JobCategories(ctx, p); err != nil {
		h.fail(w, r, err)
		return
	}
	orgs, err := h.orgs.ListOrganisations(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, o := range orgs {
		d.Orgs = append(d.Orgs, option{o.ID, o.Name, ""})
	}
	for _, role := range accessreq.Roles {
		d.Roles = append(d.Roles, option{role, roleLabels[role], ""})
	}
	if pg.Form == nil {
		pg.Form = url.Values{"mandatory": {yesNo(d.M.Mandatory)}, "blocks_existing": {yesNo(d.M.BlocksExistingAccess)},
			"validity_months": {strconv.Itoa(d.M.ValidityMonths)}, "position": {strconv.Itoa(d.M.Position)}}
	}
	pg.Title, pg.Nav, pg.Data = d.M.Title, "admin", d
	h.render(w, r, status, "training_admin_module", pg)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (h *Handler) trainingAdminModule(w http.ResponseWriter, r *http.Request) {
	h.trainingModuleView(w, r, http.StatusOK, &Page{})
}

func (h *Handler) trainingModuleError(w http.ResponseWriter, r *http.Request, err error) {
	pg := &Page{}
	h.formErrorWith(w, r, pg, err, func(status int) { h.trainingModuleView(w, r, status, pg) })
}

func (h *Handler) trainingSettings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := h.training.UpdateSettings(r.Context(), principal(r), id, settingsInput(r)); err != nil {
		h.trainingModuleError(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/training/"+id, "The settings have been saved")
}

func (h *Handler) trainingPreview(w http.ResponseWriter, r *http.Request) {
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			h.fail(w, r, errs.E(errs.Invalid, "Give the version as a whole number from 1"))
			return
		}
		version = n
	}
	v, err := h.training.Preview(r.Context(), principal(r), r.PathValue("id"), version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "training_preview", &Page{Title: "Preview: " + v.Title, Nav: "admin", Data: v})
}

// trainingAction runs a module action and goes back to its page.
func (h *Handler) trainingAction(w http.ResponseWriter, r *http.Request, act func() error, done string) {
	if err := act(); err != nil {
		h.trainingModuleError(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/training/"+r.PathValue("id"), done)
}

func (h *Handler) trainingPublish(w http.ResponseWriter, r *http.Request) {
	h.trainingAction(w, r, func() error {
		_, err := h.training.Publish(r.Context(), principal(r), r.PathValue("id"))
		return err
	}, "The module has been published: members it is assigned to now see it")
}

func (h *Handler) trainingDiscard(w http.ResponseWriter, r *http.Request) {
	h.trainingAction(w, r, func() error {
		_, err := h.training.DiscardDraft(r.Context(), principal(r), r.PathValue("id"))
		return err
	}, "The draft has been discarded")
}

func (h *Handler) trainingRetire(w http.ResponseWriter, r *http.Request) {
	h.trainingAction(w, r, func() error {
		_, err := h.training.Retire(r.Context(), principal(r), r.PathValue("id"))
		return err
	}, "The module has been retired: it is no longer assigned, and completions are kept")
}

func (h *Handler) trainingAddRule(w http.ResponseWriter, r *http.Request) {
	in := training.RuleInput{ModuleID: r.PathValue("id"), OrganisationID: r.PostFormValue("organisation_id"),
		JobCategory: strings.TrimSpace(r.PostFormValue("job_category")), RecordRole: r.PostFormValue("record_role")}
	h.trainingAction(w, r, func() error {
		_, err := h.training.AddRule(r.Context(), principal(r), in)
		return err
	}, "The rule has been added")
}

func (h *Handler) trainingRemoveRule(w http.ResponseWriter, r *http.Request) {
	if err := h.training.RemoveRule(r.Context(), principal(r), r.PathValue("rule")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/training/"+r.PathValue("id"), "The rule has been removed")
}

func (h *Handler) trainingReport(w http.ResponseWriter, r *http.Request) {
	rows, err := h.training.CompletionReport(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "training_report", &Page{Title: "Training completion", Nav: "admin", Data: rows})
}

func (h *Handler) trainingReportCSV(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := h.training.ExportCompletionCSV(r.Context(), principal(r), &buf); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "training-completion-"+h.clock.Now().UTC().Format("2006-01-02")+".csv"))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
