package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// Access requests: the request form (raise, one or many), the back office's
// queue and the transitions. The access service checks who may do what; the
// handlers decode, call it, and answer with the request as it now is.

// Who may call the access-request routes, as documented in the route table.
const (
	rolesRaise    = "site_authoriser (for a site they authorise, of its organisation); service_desk of the organisation"
	rolesRequests = "signed in; each sees the requests they may: admin, back_office and privacy_officer all, the organisation's service_desk its organisation's, a site_authoriser their sites', the submitter and the person the request is about their own"
	rolesRequest  = "admin, back_office, privacy_officer; service_desk of the request's organisation; site_authoriser of its site; its submitter; the person it is about"
	rolesValidate = "service_desk of the request's organisation"
	rolesBO       = "back_office"
	rolesAsk      = "service_desk of the request's organisation while it is submitted; back_office once validated"
	rolesAnswer   = "the request's submitter, or anyone who may raise requests for its site"
	rolesAccount  = "admin, back_office, privacy_officer; the person themself"
)

// maxBulkRaise bounds POST /access-requests/bulk.
const maxBulkRaise = 1000

// Bodies of the transitions.
type (
	noteBody struct {
		Note string `json:"note"`
	} // validate, complete
	assignBody struct {
		Assignee string `json:"assignee"`
	} // "" or left out: the caller
	questionBody struct {
		Question string `json:"question"`
	}
	answerBody struct {
		Answer string `json:"answer"`
	}
	reasonBody struct {
		Reason string `json:"reason"`
	} // cancel (optional), reject (required)
)

// requestDetail is a request with its history, oldest step first.
type requestDetail struct {
	*accessreq.Request
	History []requestEvent `json:"history"`
}

// requestEvent is a step of a request's history: accessreq.Event under a
// name of its own in the OpenAPI document (audit.Event is "Event").
type requestEvent accessreq.Event

// bulkRaise is the body of POST /access-requests/bulk. The requests are an
// array inside an object, as every request body of this API is an object.
type bulkRaise struct {
	Items []accessreq.Input `json:"items"` // at most 1,000
}

// bulkRaiseItem is the outcome of one item of a bulk raise, in the order given.
type bulkRaiseItem struct {
	Index     int                `json:"index"`  // position in the items given, from 0
	Status    string             `json:"status"` // created, existing (same source_key as an earlier request) or error
	SourceKey string             `json:"source_key,omitempty"`
	Request   *accessreq.Request `json:"request,omitempty"` // created or existing
	Error     *Problem           `json:"error,omitempty"`   // why this item was refused
}

// bulkRaiseResult is the answer to POST /access-requests/bulk.
type bulkRaiseResult struct {
	Items    []bulkRaiseItem `json:"items"`
	Created  int             `json:"created"`
	Existing int             `json:"existing"`
	Failed   int             `json:"failed"`
}

// bulkComplete is the body of POST /access-requests/complete.
type bulkComplete struct {
	IDs  []string `json:"ids"` // request ids or references
	Note string   `json:"note"`
}

// accessRoutes are the access-request and record-account rows of the route
// table (paths without the prefix).
func (h *Handler) accessRoutes() []Route {
	req := &accessreq.Request{}
	return []Route{
		{Method: "GET", Path: "/access-requests", Summary: "List access requests (the back-office queue), newest first", Roles: rolesRequests,
			Query: accessListParams, Response: listOf[accessreq.Request]{}, serve: h.listAccessRequests},
		{Method: "POST", Path: "/access-requests", Summary: "Raise an access request; validated at once unless the organisation's service desk validates", Roles: rolesRaise,
			Status: http.StatusCreated, Request: accessreq.Input{}, Response: req, serve: h.raiseAccessRequest},
		{Method: "POST", Path: "/access-requests/bulk", Summary: "Raise up to 1,000 access requests, each with its own result (idempotent by source_key)", Roles: rolesRaise,
			Request: bulkRaise{}, Response: bulkRaiseResult{}, serve: h.raiseAccessRequests},
		{Method: "POST", Path: "/access-requests/complete", Summary: "Complete many access requests (a large intake); each failure is reported and the rest go ahead", Roles: rolesBO,
			Request: bulkComplete{}, Response: accessreq.BulkResult{}, serve: h.completeAccessRequests},
		{Method: "GET", Path: "/access-requests/{id}", Summary: "Get an access request (by id or reference) with its history", Roles: rolesRequest,
			Response: requestDetail{}, serve: h.getAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/validate", Summary: "Validate a submitted request and forward it to the back office; the SLA starts", Roles: rolesValidate,
			Request: noteBody{}, bodyOptional: true, Response: req, serve: h.validateAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/assign", Summary: "Assign a validated request to a back-office member (the caller when no assignee) and mark it in progress", Roles: rolesBO,
			Request: assignBody{}, bodyOptional: true, Response: req, serve: h.assignAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/ask", Summary: "Return a request to its submitter with a question", Roles: rolesAsk,
			Request: questionBody{}, Response: req, serve: h.askAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/answer", Summary: "Answer a request's question; it resumes where it was", Roles: rolesAnswer,
			Request: answerBody{}, Response: req, serve: h.answerAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/cancel", Summary: "Withdraw a request the back office has not started", Roles: rolesAnswer,
			Request: reasonBody{}, bodyOptional: true, Response: req, serve: h.cancelAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/reject", Summary: "Refuse a request with a reason", Roles: rolesAsk,
			Request: reasonBody{}, Response: req, serve: h.rejectAccessRequest},
		{Method: "POST", Path: "/access-requests/{id}/complete", Summary: "Action a request: create or change the record account, e-mail the people concerned, close it", Roles: rolesBO,
			Request: noteBody{}, bodyOptional: true, Response: req, serve: h.completeAccessRequest},
		{Method: "GET", Path: "/users/{id}/record-account", Summary: "A person's record account: role, user name, status and reason, last use, finishing date", Roles: rolesAccount,
			Response: accessreq.RecordAccount{}, serve: h.getRecordAccount},
	}
}

var accessListParams = []Param{
	{Name: "type", Description: "new_user, amendment, reactivation, deactivation or deletion"},
	{Name: "organisation_id", Description: "The organisation's id"},
	{Name: "state", Description: "submitted, validated, in_progress, needs_information, completed, rejected, cancelled; or open for every state not closed"},
	{Name: "assigned_to", Description: "A back-office member's user id, me, or none for unassigned"},
	{Name: "submitted_by", Description: "The submitter's user id, or me"},
	{Name: "subject_user_id", Description: "The user id of the person the requests are about"},
	{Name: "overdue", Description: "true: only open requests past their SLA"},
	{Name: "q", Description: "Part of the e-mail address, the name or the reference"},
	{Name: "limit", Description: "At most this many (1–500, default 100)", Format: "int32"},
	{Name: "cursor", Description: "next_cursor of the previous page"},
}

// parseAccessFilter reads the list's query parameters, refusing unknown
// ones and values outside their lists, all at once.
func parseAccessFilter(q url.Values, me string) (accessreq.Filter, error) {
	var v errs.Validation
	var f accessreq.Filter
	known := make([]string, len(accessListParams))
	for i, p := range accessListParams {
		known[i] = p.Name
	}
	for name := range q {
		if !slices.Contains(known, name) {
			v.Add(name, "Unknown parameter: use %s", strings.Join(known, ", "))
		}
	}
	get := func(name string) string {
		if len(q[name]) > 1 {
			v.Add(name, "Give %s once", name)
		}
		s := strings.TrimSpace(q.Get(name))
		if len(s) > 254 {
			v.Add(name, "Must be 254 characters or fewer")
			return ""
		}
		return s
	}
	self := func(s string) string {
		if s == "me" {
			return me
		}
		return s
	}
	if f.Type = get("type"); f.Type != "" && !slices.Contains(accessreq.Types, f.Type) {
		v.Add("type", "Give one of %s", strings.Join(accessreq.Types, ", "))
	}
	f.OrganisationID = get("organisation_id")
	if f.State = get("state"); f.State != "" && f.State != "open" && !slices.Contains(accessreq.States, f.State) {
		v.Add("state", "Give open or one of %s", strings.Join(accessreq.States, ", "))
	}
	f.AssignedTo = self(get("assigned_to"))
	f.SubmittedBy = self(get("submitted_by"))
	f.Subject = get("subject_user_id")
	switch get("overdue") {
	case "", "false":
	case "true":
		f.Overdue = true
	default:
		v.Add("overdue", "Give true or false")
	}
	f.Query = get("q")
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			v.Add("limit", "Give a whole number from 1 to 500")
		}
		f.Limit = n
	}
	f.Before = get("cursor")
	return f, v.Err()
}

func (h *Handler) listAccessRequests(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	f, err := parseAccessFilter(r.URL.Query(), c.Principal.UserID)
	if err != nil {
		return err
	}
	rs, next, err := h.requests.List(r.Context(), c.Principal, f)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(rs), NextCursor: next})
}

// raiseAccessRequest answers 201 with the new request, or 200 with the
// existing one when source_key names a request raised before.
func (h *Handler) raiseAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in accessreq.Input
	if err := decode(r, &in); err != nil {
		return err
	}
	start := h.clock.Now()
	req, err := h.requests.Raise(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	if raisedBefore(req, start) {
		w.Header().Set("Content-Location", Prefix+"/access-requests/"+req.ID)
		return h.reply(w, http.StatusOK, req)
	}
	return h.created(w, Prefix+"/access-requests/"+req.ID, req)
}

// raisedBefore tells a request found by its source key from one just made:
// Raise returns either, and a request made by this call was submitted at or
// after its start.
func raisedBefore(req *accessreq.Request, start time.Time) bool {
	return req.SubmittedAt.Before(start)
}

// raiseAccessRequests raises the items with the access service's RaiseMany:
// each item succeeds or fails on its own, and says what became of it. Only
// people who may raise requests at all get this far: anyone else is refused
// as a whole rather than item by item.
func (h *Handler) raiseAccessRequests(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	p := c.Principal
	if !p.IsAuthoriser() && len(p.ServiceDeskOf) == 0 {
		return errs.E(errs.Forbidden, "Only site authorisers and service-desk members raise access requests")
	}
	var in bulkRaise
	if err := decode(r, &in); err != nil {
		return err
	}
	switch {
	case len(in.Items) == 0:
		return fieldError("items", "Give at least one request")
	case len(in.Items) > maxBulkRaise:
		return fieldError("items", "Give at most 1,000 requests in one call; send the rest in another")
	}
	start := h.clock.Now()
	results, err := h.requests.RaiseMany(r.Context(), p, in.Items)
	if err != nil {
		return err // the database failed: items already raised are found again by their source_key
	}
	out := bulkRaiseResult{Items: make([]bulkRaiseItem, len(results))}
	made := map[string]bool{} // requests created by this call
	for i, res := range results {
		item := bulkRaiseItem{Index: i, SourceKey: strings.TrimSpace(in.Items[i].SourceKey)}
		switch req := res.Request; {
		case res.Error != nil || req == nil:
			e := res.Error
			if e == nil {
				e = errs.As(nil)
			}
			st := status(e.Code)
			item.Status, item.Error = "error", &Problem{Type: "about:blank", Title: http.StatusText(st), Status: st,
				Detail: e.Message, Code: string(e.Code), Errors: e.Fields}
			out.Failed++
		case raisedBefore(req, start) || made[req.ID]:
			item.Status, item.Request = "existing", req
			out.Existing++
		default:
			made[req.ID] = true
			item.Status, item.Request = "created", req
			out.Created++
		}
		out.Items[i] = item
	}
	return h.reply(w, http.StatusOK, out)
}

func (h *Handler) getAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	req, evs, err := h.requests.Get(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	hist := make([]requestEvent, len(evs))
	for i, e := range evs {
		hist[i] = requestEvent(e)
	}
	return h.reply(w, http.StatusOK, requestDetail{Request: req, History: hist})
}

// transition decodes a transition's body (optional or not) and answers with
// the request as the change left it.
func (h *Handler) transition(w http.ResponseWriter, r *http.Request, body any, optional bool,
	do func(id string) (*accessreq.Request, error)) error {
	read := decode
	if optional {
		read = decodeOptional
	}
	if err := read(r, body); err != nil {
		return err
	}
	req, err := do(r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, req)
}

func (h *Handler) validateAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b noteBody
	return h.transition(w, r, &b, true, func(id string) (*accessreq.Request, error) {
		return h.requests.Validate(r.Context(), c.Principal, id, b.Note)
	})
}

func (h *Handler) assignAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b assignBody
	return h.transition(w, r, &b, true, func(id string) (*accessreq.Request, error) {
		if b.Assignee == "me" {
			b.Assignee = c.Principal.UserID
		}
		return h.requests.Assign(r.Context(), c.Principal, id, strings.TrimSpace(b.Assignee))
	})
}

func (h *Handler) askAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b questionBody
	return h.transition(w, r, &b, false, func(id string) (*accessreq.Request, error) {
		return h.requests.AskForInformation(r.Context(), c.Principal, id, b.Question)
	})
}

func (h *Handler) answerAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b answerBody
	return h.transition(w, r, &b, false, func(id string) (*accessreq.Request, error) {
		return h.requests.Answer(r.Context(), c.Principal, id, b.Answer)
	})
}

func (h *Handler) cancelAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b reasonBody
	return h.transition(w, r, &b, true, func(id string) (*accessreq.Request, error) {
		return h.requests.Cancel(r.Context(), c.Principal, id, b.Reason)
	})
}

func (h *Handler) rejectAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b reasonBody
	return h.transition(w, r, &b, false, func(id string) (*accessreq.Request, error) {
		return h.requests.Reject(r.Context(), c.Principal, id, b.Reason)
	})
}

func (h *Handler) completeAccessRequest(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b noteBody
	return h.transition(w, r, &b, true, func(id string) (*accessreq.Request, error) {
		return h.requests.Complete(r.Context(), c.Principal, id, b.Note)
	})
}

// completeAccessRequests completes many requests; the answer counts those
// completed and says why each other one was not.
func (h *Handler) completeAccessRequests(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var b bulkComplete
	if err := decode(r, &b); err != nil {
		return err
	}
	ids := make([]string, 0, len(b.IDs))
	seen := map[string]bool{}
	for _, id := range b.IDs {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 && c.Principal.Has(authz.BackOffice) {
		return fieldError("ids", "Give the ids of the requests to complete")
	}
	res, err := h.requests.CompleteMany(r.Context(), c.Principal, ids, b.Note)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, res)
}
