package api

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/training"
)

// Training: a member's assigned modules, their pages and knowledge checks;
// the programme administrators' modules, versions and assignment rules; and
// the progress reports of authorisers and administrators. The training
// service checks who may do what; the handlers decode, call it and answer.
//
// Member and administrator routes share the /training/modules/{id} paths
// without clashing: the member's routes act on what is assigned to the
// caller (pages, check, retake), the administrator's on the module itself
// (content, settings, publish, retire, discard-draft, versions, preview).
// The one route both use, GET /training/modules/{id}, answers with what the
// caller may see: "module" (the administrator's view) for programme
// administrators, "assignment" (the member's progress and contents) when the
// module is assigned to the caller, or both.

// Who may call the training routes, as documented in the route table.
const (
	rolesTrainee      = "signed in, for a published module assigned to the caller"
	rolesTrainingView = "admin (the module); signed in, for a module assigned to the caller (their progress)"
	rolesSiteTraining = "admin; site_authoriser of the site"
	rolesUserTraining = "admin; site_authoriser of a site where the person is a member"
)

// moduleInput is the body of POST /training/modules: the first version's
// content and the module's settings, side by side.
type moduleInput struct {
	training.Content
	training.SettingsInput
}

// checkAnswers is the body of POST /training/modules/{id}/check.
type checkAnswers struct {
	// Answers maps each question id to the index (from 0) of the option chosen.
	Answers map[string]int `json:"answers"`
}

// moduleDetail is GET /training/modules/{id}: what the caller may see of a
// module. Module is set for programme administrators, Assignment when the
// module is assigned to the caller.
type moduleDetail struct {
	Module     *training.Module     `json:"module,omitempty"`
	Assignment *training.ModuleView `json:"assignment,omitempty"`
}

var (
	previewParams = []Param{{Name: "version", Description: "The version to show; left out: the draft if there is one, else the current version", Format: "int32"}}
	ruleParams    = []Param{{Name: "module_id", Description: "Only the rules of this module"}}
)

func (h *Handler) trainingRoutes() []Route {
	mod := &training.Module{}
	prog := &training.Progress{}
	return []Route{
		{Method: "GET", Path: "/training", Summary: "The caller's training: assigned modules with progress, why each is assigned, and the status line", Roles: rolesSignedIn,
			Response: training.Overview{}, serve: h.myTraining},

		{Method: "GET", Path: "/training/modules", Summary: "List every training module, retired ones included, in display order", Roles: rolesAdmin,
			Response: listOf[training.Module]{}, serve: h.listTrainingModules},
		{Method: "POST", Path: "/training/modules", Summary: "Create a training module as a draft (version 1) with its content and settings", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: moduleInput{}, Response: mod, serve: h.createTrainingModule},
		{Method: "GET", Path: "/training/modules/{id}", Summary: "Get a training module: the module for administrators, the caller's progress and contents when it is assigned to them", Roles: rolesTrainingView,
			Response: moduleDetail{}, serve: h.getTrainingModule},
		{Method: "GET", Path: "/training/modules/{id}/versions", Summary: "List a module's versions, newest first, with completions and attempts of each", Roles: rolesAdmin,
			Response: listOf[training.VersionInfo]{}, serve: h.listTrainingVersions},
		{Method: "PUT", Path: "/training/modules/{id}/content", Summary: "Replace a module's content: a draft is changed in place, a published module gets a new draft version", Roles: rolesAdmin,
			Request: training.Content{}, Response: mod, serve: h.editTrainingContent},
		{Method: "PATCH", Path: "/training/modules/{id}/settings", Summary: "Change a module's settings (fields left out are unchanged); no new version", Roles: rolesAdmin,
			Request: training.SettingsInput{}, Response: mod, serve: h.updateTrainingSettings},
		{Method: "POST", Path: "/training/modules/{id}/publish", Summary: "Publish a module's draft as its current version", Roles: rolesAdmin,
			Response: mod, serve: h.publishTrainingModule},
		{Method: "POST", Path: "/training/modules/{id}/discard-draft", Summary: "Throw away the draft of a published module", Roles: rolesAdmin,
			Response: mod, serve: h.discardTrainingDraft},
		{Method: "POST", Path: "/training/modules/{id}/retire", Summary: "Retire a module: no longer assigned; completions and history are kept (final)", Roles: rolesAdmin,
			Response: mod, serve: h.retireTrainingModule},
		{Method: "GET", Path: "/training/modules/{id}/preview", Summary: "Preview a version of a module as members will see it, with the check's answers and warnings", Roles: rolesAdmin,
			Query: previewParams, Response: training.Version{}, serve: h.previewTrainingModule},

		{Method: "GET", Path: "/training/modules/{id}/pages/{n}", Summary: "Read page n (from 1) of an assigned module; reading records nothing", Roles: rolesTrainee,
			Response: training.PageView{}, serve: h.getTrainingPage},
		{Method: "POST", Path: "/training/modules/{id}/pages/{n}/complete", Summary: "Mark page n of an assigned module finished (pages are finished in order); may complete the module and raise the access request", Roles: rolesTrainee,
			Response: prog, serve: h.completeTrainingPage},
		{Method: "GET", Path: "/training/modules/{id}/check", Summary: "An assigned module's knowledge check, without the answers", Roles: rolesTrainee,
			Response: training.CheckView{}, serve: h.getTrainingCheck},
		{Method: "POST", Path: "/training/modules/{id}/check", Summary: "Answer an assigned module's knowledge check (every question); a pass completes the module", Roles: rolesTrainee,
			Request: checkAnswers{}, Response: training.CheckResult{}, serve: h.submitTrainingCheck},
		{Method: "POST", Path: "/training/modules/{id}/retake", Summary: "Take a completed module again from its first page; the completion stands until the retake is finished", Roles: rolesTrainee,
			Response: prog, serve: h.retakeTrainingModule},

		{Method: "GET", Path: "/training/rules", Summary: "List the assignment rules, by module and then by whom they assign it to", Roles: rolesAdmin,
			Query: ruleParams, Response: listOf[training.Rule]{}, serve: h.listTrainingRules},
		{Method: "POST", Path: "/training/rules", Summary: "Assign a module by organisation, job category and record role (each optional); applies at once", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: training.RuleInput{}, Response: &training.Rule{}, serve: h.addTrainingRule},
		{Method: "DELETE", Path: "/training/rules/{id}", Summary: "Remove an assignment rule; progress and completions are kept", Roles: rolesAdmin,
			Status: http.StatusNoContent, serve: h.removeTrainingRule},
		{Method: "GET", Path: "/training/job-categories", Summary: "The job categories in use in memberships and rules, for rules", Roles: rolesAdmin,
			Response: listOf[string]{}, serve: h.listJobCategories},

		{Method: "GET", Path: "/training/report", Summary: "Training completion by organisation and module", Roles: rolesAdmin,
			Response: listOf[training.CompletionRow]{}, serve: h.trainingReport},
		{Method: "GET", Path: "/training/report.csv", Summary: "Export training completion by organisation and module as CSV", Roles: rolesAdmin,
			Produces: "text/csv", serve: h.exportTrainingReport},

		{Method: "GET", Path: "/sites/{id}/training", Summary: "A site's members with their training as completed / assigned and what is outstanding", Roles: rolesSiteTraining,
			Response: listOf[training.MemberProgress]{}, serve: h.siteTraining},
		{Method: "GET", Path: "/users/{id}/training", Summary: "A person's training: assigned modules with progress", Roles: rolesUserTraining,
			Response: training.Overview{}, serve: h.userTraining},
	}
}

// pageNumber reads the {n} of a page path: a whole number from 1.
func pageNumber(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return 0, errs.E(errs.NotFound, "There is no page %q: pages are numbered from 1", r.PathValue("n"))
	}
	return n, nil
}

func (h *Handler) myTraining(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	o, err := h.training.MyTraining(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, o)
}

func (h *Handler) listTrainingModules(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	ms, err := h.training.Modules(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(ms)})
}

func (h *Handler) createTrainingModule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in moduleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := h.training.CreateModule(r.Context(), c.Principal, in.Content, in.SettingsInput)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/training/modules/"+m.ID, m)
}

// getTrainingModule answers with the administrator's view, the caller's own
// assignment, or both. A caller who is neither gets the member view's
// refusal (not assigned, retired, no such module).
func (h *Handler) getTrainingModule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	ctx, id := r.Context(), r.PathValue("id")
	var d moduleDetail
	if c.Principal.IsAdmin() {
		m, err := h.training.Module(ctx, c.Principal, id)
		if err != nil {
			return err
		}
		d.Module = m
	}
	v, err := h.training.MyModule(ctx, c.Principal, id)
	switch {
	case err == nil:
		d.Assignment = v
	case d.Module == nil:
		return err
	default:
		if errs.CodeOf(err) == errs.Internal {
			return err
		}
	}
	return h.reply(w, http.StatusOK, d)
}

func (h *Handler) listTrainingVersions(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	vs, err := h.training.Versions(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(vs)})
}

func (h *Handler) editTrainingContent(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in training.Content
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := h.training.EditContent(r.Context(), c.Principal, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, m)
}

func (h *Handler) updateTrainingSettings(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in training.SettingsInput
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := h.training.UpdateSettings(r.Context(), c.Principal, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, m)
}

func (h *Handler) publishTrainingModule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	return h.moduleVerb(w, r, c, h.training.Publish)
}

func (h *Handler) discardTrainingDraft(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	return h.moduleVerb(w, r, c, h.training.DiscardDraft)
}

func (h *Handler) retireTrainingModule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	return h.moduleVerb(w, r, c, h.training.Retire)
}

// moduleVerb serves a state change of a module that takes no body.
func (h *Handler) moduleVerb(w http.ResponseWriter, r *http.Request, c *httpauth.Caller,
	f func(ctx context.Context, p *authz.Principal, id string) (*training.Module, error)) error {
	m, err := f(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, m)
}

func (h *Handler) previewTrainingModule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			m := "Must be a version number from 1"
			return &errs.Error{Code: errs.Invalid, Message: "version: " + m, Fields: []errs.FieldError{{Field: "version", Message: m}}}
		}
		version = n
	}
	v, err := h.training.Preview(r.Context(), c.Principal, r.PathValue("id"), version)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, v)
}

func (h *Handler) getTrainingPage(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	n, err := pageNumber(r)
	if err != nil {
		return err
	}
	p, err := h.training.Page(r.Context(), c.Principal, r.PathValue("id"), n)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, p)
}

func (h *Handler) completeTrainingPage(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	n, err := pageNumber(r)
	if err != nil {
		return err
	}
	p, err := h.training.CompletePage(r.Context(), c.Principal, r.PathValue("id"), n)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, p)
}

func (h *Handler) getTrainingCheck(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	v, err := h.training.Check(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, v)
}

func (h *Handler) submitTrainingCheck(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in checkAnswers
	if err := decode(r, &in); err != nil {
		return err
	}
	res, err := h.training.SubmitCheck(r.Context(), c.Principal, r.PathValue("id"), in.Answers)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, res)
}

func (h *Handler) retakeTrainingModule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	p, err := h.training.Retake(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, p)
}

func (h *Handler) listTrainingRules(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	rs, err := h.training.Rules(r.Context(), c.Principal, r.URL.Query().Get("module_id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(rs)})
}

func (h *Handler) addTrainingRule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in training.RuleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rule, err := h.training.AddRule(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	// A rule has no address of its own to read (only to DELETE): point at
	// its module's rules.
	return h.created(w, Prefix+"/training/rules?module_id="+url.QueryEscape(rule.ModuleID), rule)
}

func (h *Handler) removeTrainingRule(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := h.training.RemoveRule(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) listJobCategories(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	cs, err := h.training.JobCategories(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(cs)})
}

func (h *Handler) trainingReport(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	rows, err := h.training.CompletionReport(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(rows)})
}

// exportTrainingReport writes the CSV to a buffer first, so that a refusal
// or a failure is still a problem response, not a half-written file.
func (h *Handler) exportTrainingReport(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b bytes.Buffer
	if err := h.training.ExportCompletionCSV(r.Context(), c.Principal, &b); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="caregate-training-`+h.clock.Now().UTC().Format("20060102T150405Z")+`.csv"`)
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
	return nil
}

func (h *Handler) siteTraining(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	ps, err := h.training.SiteProgress(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(ps)})
}

func (h *Handler) userTraining(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	o, err := h.training.MemberTraining(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, o)
}
