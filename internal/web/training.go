package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/training"
)

// registerTraining adds the training portal: members' modules, pages and
// knowledge checks, and the programme administrators' module editor,
// assignment rules and completion report.
func (h *Handler) registerTraining(mux *http.ServeMux) {
	h.handle(mux, "GET /training", signedIn, h.trainingHome)
	h.handle(mux, "GET /training/modules/{id}", signedIn, h.trainingModule)
	h.handle(mux, "GET /training/modules/{id}/pages/{n}", signedIn, h.trainingPage)
	h.handle(mux, "POST /training/modules/{id}/pages/{n}/complete", signedIn, h.trainingCompletePage)
	h.handle(mux, "GET /training/modules/{id}/check", signedIn, h.trainingCheck)
	h.handle(mux, "POST /training/modules/{id}/check", signedIn, h.trainingSubmitCheck)
	h.handle(mux, "POST /training/modules/{id}/retake", signedIn, h.trainingRetake)
	h.registerTrainingAdmin(mux)
}

// trainingStatusTags style a module's status on the member's pages.
var trainingStatusTags = map[string]string{training.NotStarted: "nhsuk-tag--grey", training.InProgress: "nhsuk-tag--blue",
	training.Completed: "nhsuk-tag--green", training.Lapsed: "nhsuk-tag--red"}

var trainingStatusLabels = map[string]string{training.NotStarted: "Not started", training.InProgress: "In progress",
	training.Completed: "Completed", training.Lapsed: "Lapsed"}

// assignmentView is an assigned module with its display labels.
type assignmentView struct {
	training.Assignment
	Tag, Label string
}

func viewAssignment(a training.Assignment) assignmentView {
	return assignmentView{Assignment: a, Tag: trainingStatusTags[a.Status], Label: trainingStatusLabels[a.Status]}
}

type trainingHomeData struct {
	O       *training.Overview
	Modules []assignmentView
}

// trainingHome is the member's "Assigned modules" page.
func (h *Handler) trainingHome(w http.ResponseWriter, r *http.Request) {
	o, err := h.training.MyTraining(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := &trainingHomeData{O: o}
	for _, a := range o.Modules {
		d.Modules = append(d.Modules, viewAssignment(a))
	}
	h.render(w, r, http.StatusOK, "training", &Page{Title: "Your training", Nav: "training", Data: d})
}

type trainingModuleData struct {
	M *training.ModuleView
	assignmentView
}

func (h *Handler) trainingModule(w http.ResponseWriter, r *http.Request) {
	m, err := h.training.MyModule(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "training_module", &Page{Title: m.Title, Nav: "training",
		Data: &trainingModuleData{M: m, assignmentView: viewAssignment(m.Assignment)}})
}

// pageNumber reads the page number from the address.
func pageNumber(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > training.MaxPages {
		return 0, errs.E(errs.Invalid, "There is no such page in this module: page numbers are whole numbers from 1")
	}
	return n, nil
}

func (h *Handler) trainingPage(w http.ResponseWriter, r *http.Request) {
	n, err := pageNumber(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pv, err := h.training.Page(r.Context(), principal(r), r.PathValue("id"), n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "training_page", &Page{Title: pv.Title + " – " + pv.ModuleTitle, Nav: "training",
		Data: &trainingPageData{PageView: pv, Prev: pv.Number - 1, Next: pv.Number + 1}})
}

// gateFlash is the message after an action that may have completed the
// member's training.
func gateFlash(msg string, g *training.Gate) string {
	if g != nil && g.Message != "" {
		return msg + ". " + g.Message
	}
	return msg
}

func (h *Handler) trainingCompletePage(w http.ResponseWriter, r *http.Request) {
	n, err := pageNumber(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	pr, err := h.training.CompletePage(r.Context(), principal(r), id, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	base := "/training/modules/" + id
	switch {
	case pr.Gate != nil:
		h.redirect(w, r, "/training", gateFlash("You have completed this module", pr.Gate))
	case pr.Completed && n >= pr.Pages && !pr.CheckNext:
		h.redirect(w, r, base, "You have completed this module")
	case pr.CheckNext:
		h.redirect(w, r, base+"/check", "You have finished the pages of this module. Now answer the knowledge check.")
	case pr.NextPage > 0:
		h.redirect(w, r, base+"/pages/"+strconv.Itoa(pr.NextPage), "")
	default:
		h.redirect(w, r, base, "")
	}
}

type trainingPageData struct {
	*training.PageView
	Prev, Next int
}

// numberedQuestion is a knowledge-check question with its number.
type numberedQuestion struct {
	training.CheckQuestion
	N int
}

type trainingCheckData struct {
	C         *training.CheckView
	Questions []numberedQuestion
	Result    *training.CheckResult
	// Answers are the options chosen, by question id, re-shown after a try.
	Answers map[string]string
}

func (h *Handler) trainingCheck(w http.ResponseWriter, r *http.Request) {
	cv, err := h.training.Check(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "training_check", &Page{Title: "Knowledge check – " + cv.ModuleTitle, Nav: "training",
		Data: newCheckData(cv, map[string]string{})})
}

// trainingSubmitCheck marks the member's answers: answers come as fields
// "q-<question id>" holding the chosen option's index.
func (h *Handler) trainingSubmitCheck(w http.ResponseWriter, r *http.Request) {
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	answers := map[string]int{}
	chosen := map[string]string{}
	var bad errs.Validation
	for k, vs := range r.PostForm {
		qid, ok := strings.CutPrefix(k, "q-")
		if !ok || len(vs) == 0 {
			continue
		}
		i, err := strconv.Atoi(vs[0])
		if err != nil {
			bad.Add(k, "Choose one of the answers")
			continue
		}
		answers[qid] = i
		chosen[qid] = vs[0]
	}
	cv, err := h.training.Check(ctx, p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pg := &Page{Title: "Knowledge check – " + cv.ModuleTitle, Nav: "training"}
	d := newCheckData(cv, chosen)
	pg.Data = d
	if err := bad.Err(); err != nil {
		h.formError(w, r, "training_check", pg, err)
		return
	}
	var missing errs.Validation
	for _, q := range cv.Questions {
		if _, ok := answers[q.ID]; !ok {
			missing.Add("q-"+q.ID, "Answer the question: %s", q.Prompt)
		}
	}
	if err := missing.Err(); err != nil {
		h.formError(w, r, "training_check", pg, err)
		return
	}
	res, err := h.training.SubmitCheck(ctx, p, id, answers)
	if err != nil {
		h.formError(w, r, "training_check", pg, err)
		return
	}
	if res.Progress != nil && res.Progress.Gate != nil {
		h.redirect(w, r, "/training", gateFlash("You passed the knowledge check with "+strconv.Itoa(res.Score)+"%", res.Progress.Gate))
		return
	}
	if res.Passed {
		h.redirect(w, r, "/training/modules/"+id, "You passed the knowledge check with "+strconv.Itoa(res.Score)+"%. You have completed this module.")
		return
	}
	// A fail: show the result on the check page, to be tried again. The
	// check was read above; only the try has changed it.
	cv.Tries, cv.LastScore = res.Tries, res.Score
	d.Result = res
	h.render(w, r, http.StatusOK, "training_check", pg)
}

func (h *Handler) trainingRetake(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	pr, err := h.training.Retake(r.Context(), principal(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	next := 1
	if pr.NextPage > 0 {
		next = pr.NextPage
	}
	h.redirect(w, r, "/training/modules/"+id+"/pages/"+strconv.Itoa(next),
		"You are retaking this module. Your completion stands until you finish the retake.")
}

func newCheckData(cv *training.CheckView, answers map[string]string) *trainingCheckData {
	d := &trainingCheckData{C: cv, Answers: answers}
	for i, q := range cv.Questions {
		d.Questions = append(d.Questions, numberedQuestion{CheckQuestion: q, N: i + 1})
	}
	return d
}

// siteTraining is a site's members' training for the site page, for those
// who may see it (its authorisers and programme administrators); nil for
// others, who see no training column.
func (h *Handler) siteTraining(r *http.Request, siteID string) map[string]training.MemberProgress {
	p := principal(r)
	if h.training == nil || (!p.IsAdmin() && !p.Authorises(siteID)) {
		return nil
	}
	ms, err := h.training.SiteProgress(r.Context(), p, siteID)
	if err != nil {
		h.log.Warn("site training progress", "site", siteID, "err", err)
		return nil
	}
	out := make(map[string]training.MemberProgress, len(ms))
	for _, m := range ms {
		out[m.UserID] = m
	}
	return out
}
