package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/record"
)

// The record's administration: the machine credentials partners publish
// with, the clinical systems that launch the viewer, data-quality contacts,
// and data-problem reports. The record itself is read over FHIR at
// /fhir/R4/ (see its CapabilityStatement), not here.

// createdClient is the answer to POST /record/clients.
type createdClient struct {
	Client *record.Client `json:"client"`
	Secret string         `json:"client_secret,omitempty"` // shown only here; none when the client has keys
}

// contactRequest names an organisation's data-quality contact.
type contactRequest struct {
	OrganisationID string `json:"organisation_id"`
	Email          string `json:"email"`
}

// closeReport is the body of POST /record/reports/{id}/close.
type closeReport struct {
	Resolution string `json:"resolution"`
}

func (h *Handler) recordRoutes() []Route {
	if h.record == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/record/clients", Summary: "List the machine credentials partners publish data with", Roles: rolesAdmin,
			Query: []Param{{Name: "organisation_id", Description: "Only this organisation's"}}, Response: listOf[record.Client]{}, serve: h.listClients},
		{Method: "POST", Path: "/record/clients", Summary: "Register a publishing system: with a JWKS it authenticates by private_key_jwt, without one it gets a client secret (shown once)",
			Roles: rolesAdmin, Status: http.StatusCreated, Request: record.ClientInput{}, Response: createdClient{}, serve: h.createClient},
		{Method: "POST", Path: "/record/clients/{id}/revoke", Summary: "Revoke a publishing credential and its tokens", Roles: rolesAdmin,
			Status: http.StatusNoContent, serve: h.revokeClient},
		{Method: "GET", Path: "/record/clinical-systems", Summary: "List the clinical systems that may launch the viewer", Roles: rolesAdmin,
			Response: listOf[record.ClinicalSystem]{}, serve: h.listClinicalSystems},
		{Method: "POST", Path: "/record/clinical-systems", Summary: "Register a clinical system and the JWKS its launch tokens are signed with; its id is the tokens' iss",
			Roles: rolesAdmin, Status: http.StatusCreated, Request: record.ClientInput{}, Response: record.ClinicalSystem{}, serve: h.createClinicalSystem},
		{Method: "POST", Path: "/record/contacts", Summary: "Set the e-mail address an organisation's data-problem reports go to", Roles: rolesAdmin,
			Status: http.StatusNoContent, Request: contactRequest{}, serve: h.setContact},
		{Method: "GET", Path: "/record/reports", Summary: "List data-problem reports (administrators: all; others: their own)", Roles: rolesSignedIn,
			Response: listOf[record.Report]{}, serve: h.listReports},
		{Method: "POST", Path: "/record/reports/{id}/close", Summary: "Close a data-problem report with its resolution", Roles: rolesAdmin,
			Status: http.StatusNoContent, Request: closeReport{}, serve: h.closeReport},
	}
}

func (h *Handler) listClients(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	cs, err := h.record.Clients(r.Context(), c.Principal, r.URL.Query().Get("organisation_id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: cs})
}

func (h *Handler) createClient(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in record.ClientInput
	if err := decode(r, &in); err != nil {
		return err
	}
	cl, secret, err := h.record.CreateClient(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/record/clients", createdClient{Client: cl, Secret: secret})
}

func (h *Handler) revokeClient(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := h.record.RevokeClient(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) listClinicalSystems(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	cs, err := h.record.ClinicalSystems(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: cs})
}

func (h *Handler) createClinicalSystem(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in record.ClientInput
	if err := decode(r, &in); err != nil {
		return err
	}
	cs, err := h.record.CreateClinicalSystem(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/record/clinical-systems", cs)
}

func (h *Handler) setContact(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in contactRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := h.record.SetContact(r.Context(), c.Principal, in.OrganisationID, in.Email); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) listReports(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	rs, err := h.record.Reports(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: rs})
}

func (h *Handler) closeReport(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in closeReport
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := h.record.CloseReport(r.Context(), c.Principal, r.PathValue("id"), in.Resolution); err != nil {
		return err
	}
	return noContent(w)
}
