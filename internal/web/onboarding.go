package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/onboarding"
)

// registerOnboarding adds the partner-onboarding pages: applications and the
// steering group's decisions, the cost table and the suspension of new access
// requests. The onboarding service allows programme administrators only; the
// handlers check it first as well, so that a made-up address is refused
// rather than "not found".
func (h *Handler) registerOnboarding(mux *http.ServeMux) {
	h.handle(mux, "GET /admin/onboarding", signedIn, h.onboardingList)
	h.handle(mux, "GET /admin/onboarding/new", signedIn, h.applicationNewForm)
	h.handle(mux, "POST /admin/onboarding", signedIn, h.applicationCreate)
	h.handle(mux, "GET /admin/onboarding/{id}", signedIn, h.applicationPage)
	h.handle(mux, "GET /admin/onboarding/{id}/edit", signedIn, h.applicationEditForm)
	h.handle(mux, "POST /admin/onboarding/{id}", signedIn, h.applicationUpdate)
	h.handle(mux, "POST /admin/onboarding/{id}/decision", signedIn, h.applicationDecide)
	h.handle(mux, "POST /admin/onboarding/{id}/go-live", signedIn, h.applicationGoLive)
	h.handle(mux, "GET /admin/size-bands", signedIn, h.sizeBandsForm)
	h.handle(mux, "POST /admin/size-bands", signedIn, h.sizeBandsSave)
	h.handle(mux, "GET /admin/suspension", signedIn, h.suspensionForm)
	h.handle(mux, "POST /admin/suspension", signedIn, h.suspensionSave)
}

// suspendedBanner is the message render shows at the top of every page while
// new access requests are suspended. The service caches it for a few
// seconds. A failure to read it is logged and shows no banner: the banner
// informs, it decides nothing.
func (h *Handler) suspendedBanner(r *http.Request) string {
	if h.onboarding == nil {
		return ""
	}
	m, err := h.onboarding.Banner(r.Context())
	if err != nil {
		h.log.Warn("read suspension banner", "request_id", r.Header.Get("X-Request-Id"), "err", err)
	}
	return m
}

type onboardingListData struct {
	Applications []*onboarding.Application
	Summary      *onboarding.Summary
	Suspended    bool
}

func (h *Handler) onboardingList(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	ctx, p := r.Context(), principal(r)
	apps, err := h.onboarding.Applications(ctx, p, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sum, err := h.onboarding.Summarise(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.onboarding.State(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "onboarding", &Page{Title: "Partner onboarding", Nav: "admin",
		Data: &onboardingListData{Applications: apps, Summary: sum, Suspended: st.Suspended}})
}

// applicationFormData is what the application form offers.
type applicationFormData struct {
	App       *onboarding.Application // nil when new
	Bands     []onboarding.SizeBand
	OrgTypes  []onboarding.Choice
	DSPT      []onboarding.Choice
	Checklist []onboarding.Choice // the yes/no prerequisites, as form fields
}

var prerequisiteFields = []onboarding.Choice{
	{Code: "provides_direct_care", Label: "The organisation provides direct care to patients or service users"},
	{Code: "hscn_connected", Label: "The organisation has an active HSCN connection across the organisation"},
	{Code: "individual_email_accounts", Label: "Every member of staff who will use the record has an individual e-mail account"},
}

func (h *Handler) applicationFormData(r *http.Request, a *onboarding.Application) (*applicationFormData, error) {
	bands, err := h.onboarding.SizeBands(r.Context(), principal(r))
	if err != nil {
		return nil, err
	}
	return &applicationFormData{App: a, Bands: bands, OrgTypes: onboarding.OrganisationTypes, DSPT: onboarding.DSPTStatuses,
		Checklist: prerequisiteFields}, nil
}

func (h *Handler) showApplicationForm(w http.ResponseWriter, r *http.Request, status int, pg *Page, a *onboarding.Application) {
	d, err := h.applicationFormData(r, a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pg.Nav, pg.Data = "admin", d
	if a == nil {
		pg.Title = "Enter an application"
	} else {
		pg.Title = "Change the application from " + a.Name
	}
	h.render(w, r, status, "onboarding_form", pg)
}

func (h *Handler) applicationNewForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	h.showApplicationForm(w, r, http.StatusOK, &Page{Form: map[string][]string{"isa_level": {"read_only"},
		"routing": {"site_authoriser"}, "email_domains": {"nhs.net"}}}, nil)
}

// applicationInput reads the application form. Domains may be separated by
// commas, spaces or new lines; a ticked box means yes.
func applicationInput(r *http.Request) onboarding.ApplicationInput {
	f := r.PostFormValue
	return onboarding.ApplicationInput{Name: f("name"), ODSCode: f("ods_code"), OrganisationType: f("organisation_type"),
		SizeBand: f("size_band"), ContactName: f("contact_name"), ContactEmail: f("contact_email"),
		ProvidesDirectCare: f("provides_direct_care") == "yes", DSPTStatus: f("dspt_status"),
		HSCNConnected: f("hscn_connected") == "yes", IndividualEmailAccounts: f("individual_email_accounts") == "yes",
		EmailDomains: strings.FieldsFunc(f("email_domains"), func(c rune) bool {
			return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t'
		}),
		ISALevel: f("isa_level"), Routing: f("routing"), Notes: f("notes")}
}

func (h *Handler) applicationCreate(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	a, err := h.onboarding.Submit(r.Context(), principal(r), applicationInput(r))
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.showApplicationForm(w, r, status, pg, nil) })
		return
	}
	flash := "The application from " + a.Name + " has been recorded"
	if !a.MeetsPrerequisites() {
		flash += ". It does not meet every prerequisite yet, so it cannot be approved until it does."
	}
	h.redirect(w, r, "/admin/onboarding/"+a.ID, flash)
}

func (h *Handler) applicationEditForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	a, err := h.onboarding.Application(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	yes := func(b bool) []string {
		if b {
			return []string{"yes"}
		}
		return nil
	}
	h.showApplicationForm(w, r, http.StatusOK, &Page{Form: map[string][]string{"name": {a.Name}, "ods_code": {a.ODSCode},
		"organisation_type": {a.OrganisationType}, "size_band": {a.SizeBand}, "contact_name": {a.ContactName},
		"contact_email": {a.ContactEmail}, "provides_direct_care": yes(a.ProvidesDirectCare), "dspt_status": {a.DSPTStatus},
		"hscn_connected": yes(a.HSCNConnected), "individual_email_accounts": yes(a.IndividualEmailAccounts),
		"email_domains": {strings.Join(a.EmailDomains, "\n")}, "isa_level": {a.ISALevel}, "routing": {a.Routing},
		"notes": {a.Notes}}}, a)
}

func (h *Handler) applicationUpdate(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	a, err := h.onboarding.Update(ctx, p, id, applicationInput(r))
	if err != nil {
		cur, err2 := h.onboarding.Application(ctx, p, id)
		if err2 != nil {
			h.fail(w, r, err2)
			return
		}
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.showApplicationForm(w, r, status, pg, cur) })
		return
	}
	h.redirect(w, r, "/admin/onboarding/"+a.ID, "The application has been changed")
}

func (h *Handler) applicationView(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	if !h.requireAdmin(w, r) {
		return
	}
	a, err := h.onboarding.Application(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pg.Title, pg.Nav, pg.Data = a.Name, "admin", a
	h.render(w, r, status, "onboarding_application", pg)
}

func (h *Handler) applicationPage(w http.ResponseWriter, r *http.Request) {
	h.applicationView(w, r, http.StatusOK, &Page{})
}

func (h *Handler) applicationError(w http.ResponseWriter, r *http.Request, err error) {
	pg := &Page{}
	h.formErrorWith(w, r, pg, err, func(status int) { h.applicationView(w, r, status, pg) })
}

// meetingDate joins the day, month and year boxes of the date input as
// YYYY-MM-DD; what is not a number is passed on as typed, for the service
// to refuse with its message.
func meetingDate(r *http.Request) string {
	d, m, y := strings.TrimSpace(r.PostFormValue("meeting_day")), strings.TrimSpace(r.PostFormValue("meeting_month")),
		strings.TrimSpace(r.PostFormValue("meeting_year"))
	if d == "" && m == "" && y == "" {
		return ""
	}
	dn, e1 := strconv.Atoi(d)
	mn, e2 := strconv.Atoi(m)
	yn, e3 := strconv.Atoi(y)
	if e1 != nil || e2 != nil || e3 != nil || yn < 1000 || yn > 9999 || dn < 0 || mn < 0 || dn > 99 || mn > 99 {
		return d + "/" + m + "/" + y
	}
	return fmt.Sprintf("%04d-%02d-%02d", yn, mn, dn)
}

func (h *Handler) applicationDecide(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	d := onboarding.Decision{MeetingDate: meetingDate(r), Minutes: r.PostFormValue("minutes")}
	var a *onboarding.Application
	var err error
	switch r.PostFormValue("decision") {
	case "approve":
		a, err = h.onboarding.Approve(ctx, p, id, d)
	case "reject":
		a, err = h.onboarding.Reject(ctx, p, id, d)
	default:
		m := "Choose whether the steering group approved or rejected the application"
		err = &errs.Error{Code: errs.Invalid, Message: m, Fields: []errs.FieldError{{Field: "decision", Message: m}}}
	}
	if err != nil {
		h.applicationError(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/onboarding/"+a.ID, "The steering group's decision has been recorded: "+a.State)
}

func (h *Handler) applicationGoLive(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	a, err := h.onboarding.GoLive(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		h.applicationError(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/onboarding/"+a.ID, a.Name+" is live and has been added to the partner organisations")
}
