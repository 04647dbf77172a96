package web

import (
	"net/http"
	"net/url"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/record"
)

// The record viewer: patient search, the patient's record by section, and
// contextual launch from a clinical system. Every rule — the gate, the role
// filter, auditing before data leaves — is in package record; these
// handlers parse, call one method and render.

func (h *Handler) registerRecord(mux *http.ServeMux) {
	if h.record == nil {
		return
	}
	h.handle(mux, "GET /record", signedIn, h.recordHome)
	h.handle(mux, "POST /record/search", signedIn, h.recordSearch)
	h.handle(mux, "GET /record/patients/{nhs}", signedIn, h.recordView)
	h.handle(mux, "GET /record/patients/{nhs}/{section}", signedIn, h.recordView)
	h.handle(mux, "GET /record/items/{id}/report", signedIn, h.recordReportForm)
	h.handle(mux, "POST /record/items/{id}/report", signedIn, h.recordReport)
	h.handle(mux, "GET /record/reports", signedIn, h.recordReports)
	h.handle(mux, "POST /record/reports/{id}/close", signedIn, h.recordReportClose)
	// The launch form is posted by the partner's clinical system from its
	// own page, so it cannot carry our CSRF token: the signed, single-use,
	// audience-bound launch token is what proves the request. It is
	// registered outside handle (which checks CSRF) for that reason alone.
	h.routes = append(h.routes, "POST /launch")
	mux.HandleFunc("POST /launch", h.launch)
}

// via says how a view of the patient nhs came about in this request's
// session ("" for searches and pages of no one patient).
func (h *Handler) via(r *http.Request, nhs string) string {
	c := httpauth.From(r.Context())
	if c.Session == nil {
		return record.ViaSearch
	}
	return h.record.ViaOf(r.Context(), c.Session.IDHash, nhs)
}

// recordFail renders the clear page for someone the record turns away, and
// any other error as usual.
func (h *Handler) recordFail(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	if e.Code != errs.Forbidden {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusForbidden, "record_refused", &Page{Title: "You cannot open the record", Nav: "record", Data: e.Message})
}

type recordSearchData struct {
	Matches  []record.Match
	Total    int // how many match in all: more than Matches when the search should be narrowed
	Searched bool
}

func (h *Handler) recordHome(w http.ResponseWriter, r *http.Request) {
	if _, err := h.record.Gate(r.Context(), principal(r), h.via(r, "")); err != nil {
		h.recordFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "record_search", &Page{Title: "Find a patient", Nav: "record", Data: &recordSearchData{}})
}

func (h *Handler) recordSearch(w http.ResponseWriter, r *http.Request) {
	q := record.Query{NHSNumber: r.PostFormValue("nhs_number"), Family: r.PostFormValue("family"), Given: r.PostFormValue("given"),
		BirthDate: r.PostFormValue("birth_date"), Gender: r.PostFormValue("gender"), Postcode: r.PostFormValue("postcode")}
	ms, total, err := h.record.Search(r.Context(), principal(r), h.via(r, ""), q)
	pg := &Page{Title: "Find a patient", Nav: "record", Form: r.PostForm, Data: &recordSearchData{Matches: ms, Total: total, Searched: err == nil}}
	if err != nil {
		if errs.CodeOf(err) == errs.Forbidden {
			h.recordFail(w, r, err)
			return
		}
		h.formError(w, r, "record_search", pg, err)
		return
	}
	pg.Form.Del("csrf_token")
	h.render(w, r, http.StatusOK, "record_search", pg)
}

// recordViewData is the viewer page; its HTML (record_html.go) is written
// in Go.
type recordViewData struct {
	V   *record.View
	Via string
}

func (h *Handler) recordView(w http.ResponseWriter, r *http.Request) {
	via := h.via(r, r.PathValue("nhs"))
	v, err := h.record.Record(r.Context(), principal(r), via, r.PathValue("nhs"), record.Section(r.PathValue("section")))
	if err != nil {
		h.recordFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "record_view", &Page{Title: v.Patient.Name + " – " + record.SectionTitle(v.Section), Nav: "record",
		Data: &recordViewData{V: v, Via: via}})
}

// launch opens the viewer on the patient a clinical system names, for its
// user, with a session of their own. Every refusal is a clear page.
func (h *Handler) launch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, errs.E(errs.Invalid, "The launch form could not be read"))
		return
	}
	if r.URL.Query().Has("launch_token") || r.URL.Query().Has("token") {
		// A token in the address would be in browser history and logs.
		h.render(w, r, http.StatusBadRequest, "record_refused", &Page{Title: "The launch was refused", Data: "The launch token must be sent in the form body, never in the address."})
		return
	}
	c := httpauth.From(r.Context())
	l, err := h.record.Launch(r.Context(), c.Who(), r.PostForm.Get("launch_token"))
	if err != nil {
		if errs.CodeOf(err) == errs.Internal {
			h.fail(w, r, err)
			return
		}
		h.render(w, r, errs.HTTPStatus(errs.CodeOf(err)), "record_refused", &Page{Title: "The launch was refused", Data: errs.As(err).Message})
		return
	}
	h.auth.SetSession(w, r, l.SessionToken)
	http.Redirect(w, r, "/record/patients/"+url.PathEscape(l.NHSNumber), http.StatusSeeOther)
}

type recordReportData struct {
	Item *record.Item
	NHS  string
}

// recordReportForm shows one item and a form to say what looks wrong.
func (h *Handler) recordReportForm(w http.ResponseWriter, r *http.Request) {
	h.recordReportPage(w, r, http.StatusOK, &Page{})
}

func (h *Handler) recordReportPage(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	it, nhs, err := h.record.ReportableItem(r.Context(), principal(r), h.via(r, ""), r.PathValue("id"))
	if err != nil {
		h.recordFail(w, r, err)
		return
	}
	pg.Title, pg.Nav, pg.Data = "Report a problem with this item", "record", &recordReportData{Item: it, NHS: nhs}
	h.render(w, r, status, "record_report", pg)
}

func (h *Handler) recordReport(w http.ResponseWriter, r *http.Request) {
	rep, err := h.record.ReportProblem(r.Context(), principal(r), r.PathValue("id"), r.PostFormValue("description"))
	if err != nil {
		if errs.CodeOf(err) == errs.Invalid {
			pg := &Page{Err: errs.As(err), Form: r.PostForm}
			h.recordReportPage(w, r, http.StatusBadRequest, pg)
			return
		}
		h.recordFail(w, r, err)
		return
	}
	h.redirect(w, r, "/record/patients/"+url.PathEscape(rep.NHSNumber), "Thank you: your report has been sent to "+rep.Organisation)
}

func (h *Handler) recordReports(w http.ResponseWriter, r *http.Request) {
	rs, err := h.record.Reports(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "record_reports", &Page{Title: "Data problem reports", Nav: "record", Data: rs})
}

func (h *Handler) recordReportClose(w http.ResponseWriter, r *http.Request) {
	if err := h.record.CloseReport(r.Context(), principal(r), r.PathValue("id"), r.PostFormValue("resolution")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/record/reports", "The report has been closed")
}
