package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
)

// registerRequests adds the access request pages: the list (the back
// office's queue), the request form, a request's page and its actions. The
// pages are open to anyone signed in and show only what the access service
// lets the person see; the service decides every action.
func (h *Handler) registerRequests(mux *http.ServeMux) {
	h.handle(mux, "GET /requests", signedIn, h.requestList)
	h.handle(mux, "GET /requests/new", signedIn, h.requestNewForm)
	h.handle(mux, "POST /requests", signedIn, h.requestCreate)
	h.handle(mux, "POST /requests/complete", signedIn, h.requestCompleteMany)
	h.handle(mux, "GET /requests/{id}", signedIn, h.requestPage)
	h.handle(mux, "POST /requests/{id}/validate", signedIn, h.requestValidate)
	h.handle(mux, "POST /requests/{id}/assign", signedIn, h.requestAssign)
	h.handle(mux, "POST /requests/{id}/ask", signedIn, h.requestAsk)
	h.handle(mux, "POST /requests/{id}/answer", signedIn, h.requestAnswer)
	h.handle(mux, "POST /requests/{id}/cancel", signedIn, h.requestCancel)
	h.handle(mux, "POST /requests/{id}/reject", signedIn, h.requestReject)
	h.handle(mux, "POST /requests/{id}/complete", signedIn, h.requestComplete)
}

// seesQueue reports whether p sees every request of the region (the back
// office, administrators and privacy officers), and so the queue's filters
// and counts.
func seesQueue(p *authz.Principal) bool {
	return p.Has(authz.BackOffice) || p.IsAdmin() || p.Has(authz.PrivacyOfficer)
}

// mayRaise reports whether p may open the request form: site authorisers and
// service-desk staff. The service checks the site and organisation.
func mayRaise(p *authz.Principal) bool {
	return p.IsAuthoriser() || (p != nil && len(p.ServiceDeskOf) > 0)
}

// option is one choice of a select, radio group or checkbox.
type option struct {
	Value, Label, Hint string
}

var stateTags = map[string]string{accessreq.StateSubmitted: "nhsuk-tag--white", accessreq.StateValidated: "nhsuk-tag--blue",
	accessreq.StateInProgress: "nhsuk-tag--aqua-green", accessreq.StateNeedsInformation: "nhsuk-tag--yellow",
	accessreq.StateCompleted: "nhsuk-tag--green", accessreq.StateRejected: "nhsuk-tag--orange", accessreq.StateCancelled: "nhsuk-tag--grey"}

var roleLabels = map[string]string{accessreq.RoleCareProfessional: "Care Professional", accessreq.RoleAdministrator: "Administrator"}

var roleHints = map[string]string{accessreq.RoleCareProfessional: "Sees the whole record.",
	accessreq.RoleAdministrator: "Sees demographics and appointments only."}

var reasonLabels = map[string]string{accessreq.ReasonLeaver: "Leaver", accessreq.ReasonMaternityLeave: "Maternity leave",
	accessreq.ReasonLongTermSickness: "Long-term sickness", accessreq.ReasonInactivity: "Inactivity",
	accessreq.ReasonEndOfContract: "End of temporary contract", accessreq.ReasonOther: "Other"}

// capitalise puts the first letter of a label in upper case.
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// requestView is a request with the names the pages show beside its ids.
type requestView struct {
	*accessreq.Request
	OrgName, SiteName, SubmitterName, ValidatorName, AssigneeName string
}

// TypeLabel names the request's type.
func (v *requestView) TypeLabel() string { return accessreq.TypeLabel(v.Type) }

// StateLabel names the request's state.
func (v *requestView) StateLabel() string { return capitalise(accessreq.StateLabel(v.State)) }

// StateTag is the colour of the state's tag.
func (v *requestView) StateTag() string { return stateTags[v.State] }

// RoleLabel names the record role asked for.
func (v *requestView) RoleLabel() string {
	if v.Role == "" {
		return ""
	}
	return roleLabels[v.Role] + " (" + strings.TrimSuffix(strings.ToLower(roleHints[v.Role][:1])+roleHints[v.Role][1:], ".") + ")"
}

// ReasonLabel names the reason for a deactivation or deletion.
func (v *requestView) ReasonLabel() string { return reasonLabels[v.Reason] }

// Closed reports whether the request is finished.
func (v *requestView) Closed() bool { return accessreq.Closed(v.State) }

// names looks up the names shown beside ids, once per id per page.
type names struct {
	h     *Handler
	ctx   context.Context
	p     *authz.Principal
	orgs  map[string]string
	sites map[string]string
	users map[string]string

	mayRead map[string]bool // organisation id → may the reader see it
}

func (h *Handler) names(ctx context.Context, p *authz.Principal) *names {
	return &names{h: h, ctx: ctx, p: p, orgs: map[string]string{}, sites: map[string]string{}, users: map[string]string{}, mayRead: map[string]bool{}}
}

// org names an organisation the person may see; others stay unnamed.
func (n *names) org(id string) string {
	if v, ok := n.orgs[id]; ok || id == "" {
		return v
	}
	if o, err := n.h.orgs.Organisation(n.ctx, n.p, id); err == nil {
		n.orgs[id] = o.Name
	} else {
		n.orgs[id] = ""
	}
	return n.orgs[id]
}

func (n *names) site(id string) string {
	if v, ok := n.sites[id]; ok || id == "" {
		return v
	}
	if s, err := n.h.orgs.Site(n.ctx, n.p, id); err == nil {
		n.sites[id] = s.Name
	} else {
		n.sites[id] = ""
	}
	return n.sites[id]
}

// user names a person by name and e-mail address.
func (n *names) user(id string) string {
	if v, ok := n.users[id]; ok || id == "" {
		return v
	}
	if u, err := n.h.users.User(n.ctx, id); err == nil {
		n.users[id] = u.Name() + " (" + u.Email + ")"
	} else {
		n.users[id] = ""
	}
	return n.users[id]
}

// listed is the view of a request read by List, which read the names the
// list shows with it: only whether the reader may see the organisation
// and the site remains to be decided (once per organisation).
func (n *names) listed(r *accessreq.Request) *requestView {
	v := &requestView{Request: r, AssigneeName: r.AssigneeName}
	may, ok := n.mayRead[r.OrganisationID]
	if !ok {
		may = n.h.orgs.MayRead(n.ctx, n.p, r.OrganisationID)
		n.mayRead[r.OrganisationID] = may
	}
	if may {
		v.OrgName = r.OrganisationName
	}
	if r.SiteID != "" && org.MayReadSite(n.p, r.OrganisationID, r.SiteID) {
		v.SiteName = r.SiteName
	}
	return v
}

func (n *names) view(r *accessreq.Request) *requestView {
	return &requestView{Request: r, OrgName: n.org(r.OrganisationID), SiteName: n.site(r.SiteID), SubmitterName: n.user(r.SubmittedBy),
		ValidatorName: n.user(r.ValidatedBy), AssigneeName: n.user(r.AssignedTo)}
}

// listData is what the requests page shows.
type listData struct {
	Queue      bool // the region's queue, with filters and counts
	BackOffice bool // may complete requests in bulk
	CanRaise   bool
	Requests   []*requestView
	Open       int
	Overdue    int
	Types      []option
	States     []option
	Assignees  []option
	Orgs       []*org.Organisation
	Next       template.URL // the next page, when there is one
	First      template.URL // the first page, when on a later one
	Back       string       // the current query, so that bulk completion returns to it
	Filtered   bool
}

// requestFilter reads the list's filters from the query string. The queue
// shows open requests unless asked otherwise; other people see all of theirs.
func requestFilter(q url.Values, p *authz.Principal, queue bool) (accessreq.Filter, error) {
	f := accessreq.Filter{Type: q.Get("type"), OrganisationID: strings.TrimSpace(q.Get("organisation")), Query: strings.TrimSpace(q.Get("q")),
		Before: q.Get("before"), Overdue: q.Get("overdue") == "1", Limit: 50}
	var v errs.Validation
	if f.Type != "" && !slices.Contains(accessreq.Types, f.Type) {
		v.Add("type", "Choose a type from the list")
	}
	switch s := q.Get("state"); {
	case s == "" && queue:
		f.State = "open"
	case s == "" || s == "any":
	case s == "open" || slices.Contains(accessreq.States, s):
		f.State = s
	default:
		v.Add("state", "Choose a state from the list")
	}
	switch a := q.Get("assignee"); a {
	case "", "anyone":
	case "me":
		f.AssignedTo = p.UserID
	case "none":
		f.AssignedTo = "none"
	default:
		v.Add("assignee", "Choose who the requests are assigned to")
	}
	if utf8.RuneCountInString(f.Query) > 200 {
		v.Add("q", "Search for at most 200 characters")
	}
	return f, v.Err()
}

// requestList is the requests page: the back office's queue, or the
// requests a person raised, validates, authorises or is the subject of.
func (h *Handler) requestList(w http.ResponseWriter, r *http.Request) {
	h.requestListView(w, r, http.StatusOK, &Page{})
}

func (h *Handler) requestListView(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	ctx, p := r.Context(), principal(r)
	q := r.URL.Query()
	queue := seesQueue(p)
	if queue && q.Get("state") == "" {
		q.Set("state", "open")
	}
	d := &listData{Queue: queue, BackOffice: p.Has(authz.BackOffice), CanRaise: mayRaise(p), Types: typeOptions(), States: stateOptions(),
		Assignees: []option{{"anyone", "Anyone", ""}, {"me", "Me", ""}, {"none", "No one (unassigned)", ""}}}
	pg.Title, pg.Nav, pg.Data = "Access requests", "requests", d
	if pg.Form == nil {
		pg.Form = q
	}
	f, err := requestFilter(q, p, queue)
	if err != nil {
		pg.Err = errs.As(err)
		h.render(w, r, http.StatusBadRequest, "requests", pg)
		return
	}
	list, next, err := h.access.List(ctx, p, f)
	if err != nil {
		if errs.CodeOf(err) == errs.Invalid { // a cursor that was tampered with
			pg.Err = errs.As(err)
			h.render(w, r, http.StatusBadRequest, "requests", pg)
			return
		}
		h.fail(w, r, err)
		return
	}
	n := h.names(ctx, p)
	for _, req := range list {
		d.Requests = append(d.Requests, n.listed(req))
	}
	if queue {
		if d.Orgs, err = h.orgs.ListOrganisations(ctx, p); err != nil {
			h.fail(w, r, err)
			return
		}
		if d.Open, d.Overdue, err = h.access.Counts(ctx); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if next != "" {
		nq := cloneQuery(q)
		nq.Set("before", next)
		d.Next = template.URL("/requests?" + nq.Encode()) // built from url.Values: safe as a link
	}
	bq := cloneQuery(q)
	bq.Del("before")
	d.Back = bq.Encode()
	if f.Before != "" {
		d.First = template.URL("/requests?" + d.Back)
	}
	for _, k := range []string{"type", "organisation", "assignee", "overdue", "q"} {
		if v := q.Get(k); v != "" && v != "anyone" {
			d.Filtered = true
		}
	}
	h.render(w, r, status, "requests", pg)
}

func typeOptions() []option {
	hints := map[string]string{
		accessreq.TypeNewUser:      "A new licence for someone who needs to see the record.",
		accessreq.TypeAmendment:    "A change to an existing licence: the record role, the finishing date, the person's details or e-mail address.",
		accessreq.TypeReactivation: "Reinstate a deactivated account, for example after 90 days unused or a return from leave.",
		accessreq.TypeDeactivation: "Pause access, for example for maternity leave or long-term sickness.",
		accessreq.TypeDeletion:     "Remove the licence: a leaver, or access no longer needed.",
	}
	out := make([]option, 0, len(accessreq.Types))
	for _, t := range accessreq.Types {
		out = append(out, option{t, accessreq.TypeLabel(t), hints[t]})
	}
	return out
}

func stateOptions() []option {
	out := []option{{"open", "Open (not finished)", ""}, {"any", "Any", ""}}
	for _, s := range accessreq.States {
		out = append(out, option{s, capitalise(accessreq.StateLabel(s)), ""})
	}
	return out
}
