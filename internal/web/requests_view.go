package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
)

// requestActions says which action forms a request's page offers the
// person. It only hides forms that would be refused; the access service
// still decides each action.
type requestActions struct {
	Validate, Assign, Ask, Answer, Cancel, Reject, Complete bool
}

// Any reports whether any action is offered, for the section's heading.
func (a requestActions) Any() bool {
	return a.Validate || a.Assign || a.Ask || a.Answer || a.Cancel || a.Reject || a.Complete
}

func actionsFor(p *authz.Principal, r *accessreq.Request) requestActions {
	desk, bo := p.StaffsServiceDesk(r.OrganisationID), p.Has(authz.BackOffice)
	// As the domain's rule for answering and cancelling: the submitter, or
	// anyone who may raise requests there (its service desk, the site's
	// authorisers).
	raiser := r.SubmittedBy == p.UserID || desk || (r.SiteID != "" && p.Authorises(r.SiteID))
	// A request waiting for information belongs to the stage it left: the
	// service desk's before validation, the back office's after.
	stage := r.State
	if stage == accessreq.StateNeedsInformation {
		stage = accessreq.StateSubmitted
		if r.ValidatedAt != nil {
			stage = accessreq.StateValidated
		}
	}
	working := r.State == accessreq.StateValidated || r.State == accessreq.StateInProgress
	return requestActions{
		Validate: desk && r.State == accessreq.StateSubmitted,
		Ask:      (desk && r.State == accessreq.StateSubmitted) || (bo && working),
		Reject: !accessreq.Closed(r.State) && ((desk && stage == accessreq.StateSubmitted) ||
			(bo && (stage == accessreq.StateValidated || stage == accessreq.StateInProgress))),
		Assign:   bo && (r.State == accessreq.StateValidated || (r.State == accessreq.StateInProgress && r.AssignedTo != p.UserID)),
		Complete: bo && working,
		Answer:   raiser && r.State == accessreq.StateNeedsInformation,
		Cancel:   raiser && slices.Contains([]string{accessreq.StateSubmitted, accessreq.StateValidated, accessreq.StateNeedsInformation}, r.State),
	}
}

// eventView is one step of a request's history.
type eventView struct {
	accessreq.Event
	From, To string
}

type requestPageData struct {
	R       *requestView
	Events  []eventView
	Can     requestActions
	Attests []option
}

func (h *Handler) requestPage(w http.ResponseWriter, r *http.Request) {
	h.requestPageView(w, r, http.StatusOK, &Page{})
}

// requestPageView shows a request, its history and the actions the person
// may take.
func (h *Handler) requestPageView(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	ctx, p := r.Context(), principal(r)
	req, evs, err := h.access.Get(ctx, p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := &requestPageData{R: h.names(ctx, p).view(req), Can: actionsFor(p, req), Attests: attestations}
	for _, e := range evs {
		ev := eventView{Event: e, To: capitalise(accessreq.StateLabel(e.ToState))}
		if e.FromState != "" {
			ev.From = capitalise(accessreq.StateLabel(e.FromState))
		}
		d.Events = append(d.Events, ev)
	}
	pg.Title, pg.Nav, pg.Data = req.Title, "requests", d
	h.render(w, r, status, "requests_view", pg)
}

// requestAct runs one action on the request of the path and comes back to
// its page (post/redirect/get), or shows the page with what went wrong.
func (h *Handler) requestAct(w http.ResponseWriter, r *http.Request,
	do func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error), done func(req *accessreq.Request) string) {
	req, err := do(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.requestPageView(w, r, status, pg) })
		return
	}
	h.redirect(w, r, "/requests/"+req.ID, done(req))
}

func (h *Handler) requestValidate(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.Validate(ctx, p, id, r.PostFormValue("validate_note"))
	}, func(req *accessreq.Request) string {
		return "Request " + req.Ref + " has been validated and sent to the back office"
	})
}

func (h *Handler) requestAssign(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.Assign(ctx, p, id, "")
	}, func(req *accessreq.Request) string { return "Request " + req.Ref + " is assigned to you" })
}

func (h *Handler) requestAsk(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.AskForInformation(ctx, p, id, r.PostFormValue("question"))
	}, func(req *accessreq.Request) string {
		return "Request " + req.Ref + " has been returned with your question to the person who raised it"
	})
}

func (h *Handler) requestAnswer(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.Answer(ctx, p, id, r.PostFormValue("answer"))
	}, func(req *accessreq.Request) string {
		return "Your answer has been added; request " + req.Ref + " is moving again"
	})
}

func (h *Handler) requestCancel(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.Cancel(ctx, p, id, r.PostFormValue("cancel_reason"))
	}, func(req *accessreq.Request) string { return "Request " + req.Ref + " has been cancelled" })
}

func (h *Handler) requestReject(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.Reject(ctx, p, id, r.PostFormValue("reason"))
	}, func(req *accessreq.Request) string { return "Request " + req.Ref + " has been rejected" })
}

func (h *Handler) requestComplete(w http.ResponseWriter, r *http.Request) {
	h.requestAct(w, r, func(ctx context.Context, p *authz.Principal, id string) (*accessreq.Request, error) {
		return h.access.Complete(ctx, p, id, r.PostFormValue("note"))
	}, func(req *accessreq.Request) string { return "Request " + req.Ref + " has been completed" })
}

// requestCompleteMany completes the requests ticked in the queue and
// returns to the queue as it was filtered.
func (h *Handler) requestCompleteMany(w http.ResponseWriter, r *http.Request) {
	back, _ := url.ParseQuery(r.PostFormValue("back"))
	var ids []string
	for _, id := range r.PostForm["id"] {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	res, err := h.access.CompleteMany(r.Context(), principal(r), ids, r.PostFormValue("bulk_note"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(ids) == 0 {
		r.URL.RawQuery = back.Encode()
		h.requestListView(w, r, http.StatusBadRequest, &Page{Err: &errs.Error{Code: errs.Invalid, Message: "Select the requests to complete",
			Fields: []errs.FieldError{{Field: "requests", Message: "Select the requests to complete"}}}})
		return
	}
	h.redirect(w, r, "/requests?"+back.Encode(), bulkSummary(res))
}

// bulkSummary says what a bulk completion did, in a flash-sized sentence.
func bulkSummary(res *accessreq.BulkResult) string {
	msg := fmt.Sprintf("%d completed", res.Completed)
	if len(res.Failed) == 0 {
		return msg
	}
	var why []string
	for _, m := range res.Failed {
		if !slices.Contains(why, m) {
			why = append(why, m)
		}
	}
	slices.Sort(why)
	msg += fmt.Sprintf(", %d could not be: %s", len(res.Failed), strings.Join(why, "; "))
	if len(msg) > 280 {
		n := 277
		for !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n] + "…"
	}
	return msg
}
