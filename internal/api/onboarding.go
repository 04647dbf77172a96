package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/onboarding"
)

// Partner onboarding: applications and the IG steering group's decisions,
// go-live, the size-band cost table and the regional suspension of new
// access requests. Applicants contact the programme team, who act for them,
// so everything is for administrators except reading the suspension, which
// every signed-in caller may (the portal shows it on every page). The
// onboarding service enforces this; the handlers decode, call it and answer.

const rolesSuspension = "signed in (any account); the portal shows it on every page"

// sizeBandTable is the body of PUT /size-bands: the complete new table.
type sizeBandTable struct {
	Items []onboarding.SizeBandInput `json:"items"`
}

var applicationStates = []Param{{Name: "state", Description: "Only applications in this state: submitted, approved, rejected or live"}}

func (h *Handler) onboardingRoutes() []Route {
	app := &onboarding.Application{}
	return []Route{
		{Method: "GET", Path: "/onboarding/applications", Summary: "List partner applications, newest first, each with its unmet prerequisites and costs", Roles: rolesAdmin,
			Query: applicationStates, Response: listOf[onboarding.Application]{}, serve: h.listApplications},
		{Method: "POST", Path: "/onboarding/applications", Summary: "Record an organisation's application (kept, and flagged, when a prerequisite is unmet)", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: onboarding.ApplicationInput{}, Response: app, serve: h.submitApplication},
		{Method: "GET", Path: "/onboarding/applications/{id}", Summary: "Get a partner application", Roles: rolesAdmin,
			Response: app, serve: h.getApplication},
		{Method: "PUT", Path: "/onboarding/applications/{id}", Summary: "Correct a submitted application (every field, as on submission)", Roles: rolesAdmin,
			Request: onboarding.ApplicationInput{}, Response: app, serve: h.updateApplication},
		{Method: "POST", Path: "/onboarding/applications/{id}/approve", Summary: "Record the IG steering group's approval (refused while a prerequisite is unmet)", Roles: rolesAdmin,
			Request: onboarding.Decision{}, Response: app, serve: h.approveApplication},
		{Method: "POST", Path: "/onboarding/applications/{id}/reject", Summary: "Record the IG steering group's rejection", Roles: rolesAdmin,
			Request: onboarding.Decision{}, Response: app, serve: h.rejectApplication},
		{Method: "POST", Path: "/onboarding/applications/{id}/go-live", Summary: "Create the approved organisation and make the application live (again: no change)", Roles: rolesAdmin,
			Response: app, serve: h.goLive},
		{Method: "GET", Path: "/onboarding/summary", Summary: "Implementation costs and annual contributions of live and approved organisations", Roles: rolesAdmin,
			Response: onboarding.Summary{}, serve: h.onboardingSummary},

		{Method: "GET", Path: "/size-bands", Summary: "The size bands and their costs, in pence", Roles: rolesAdmin,
			Response: listOf[onboarding.SizeBand]{}, serve: h.listSizeBands},
		{Method: "PUT", Path: "/size-bands", Summary: "Replace the size-band table (a band in use cannot be removed)", Roles: rolesAdmin,
			Request: sizeBandTable{}, Response: listOf[onboarding.SizeBand]{}, serve: h.setSizeBands},

		{Method: "GET", Path: "/suspension", Summary: "Whether new access requests are suspended for the region, and the message", Roles: rolesSuspension,
			Response: onboarding.SuspensionState{}, serve: h.getSuspension},
		{Method: "PUT", Path: "/suspension", Summary: "Suspend new access requests with a message, or accept them again (audited)", Roles: rolesAdmin,
			Request: onboarding.SuspensionInput{}, Response: onboarding.SuspensionState{}, serve: h.setSuspension},
	}
}

func (h *Handler) listApplications(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	apps, err := h.onboarding.Applications(r.Context(), c.Principal, r.URL.Query().Get("state"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(apps)})
}

func (h *Handler) submitApplication(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in onboarding.ApplicationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := h.onboarding.Submit(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/onboarding/applications/"+a.ID, a)
}

func (h *Handler) getApplication(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	a, err := h.onboarding.Application(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}

func (h *Handler) updateApplication(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in onboarding.ApplicationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := h.onboarding.Update(r.Context(), c.Principal, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}

func (h *Handler) approveApplication(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var d onboarding.Decision
	if err := decode(r, &d); err != nil {
		return err
	}
	a, err := h.onboarding.Approve(r.Context(), c.Principal, r.PathValue("id"), d)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}

func (h *Handler) rejectApplication(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var d onboarding.Decision
	if err := decode(r, &d); err != nil {
		return err
	}
	a, err := h.onboarding.Reject(r.Context(), c.Principal, r.PathValue("id"), d)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}

func (h *Handler) goLive(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	a, err := h.onboarding.GoLive(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}

func (h *Handler) onboardingSummary(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	s, err := h.onboarding.Summarise(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, s)
}

func (h *Handler) listSizeBands(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	bands, err := h.onboarding.SizeBands(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: bands})
}

func (h *Handler) setSizeBands(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in sizeBandTable
	if err := decode(r, &in); err != nil {
		return err
	}
	bands, err := h.onboarding.SetSizeBands(r.Context(), c.Principal, in.Items)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: bands})
}

func (h *Handler) getSuspension(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	st, err := h.onboarding.State(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, st)
}

func (h *Handler) setSuspension(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in onboarding.SuspensionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	st, err := h.onboarding.SetSuspension(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, st)
}
