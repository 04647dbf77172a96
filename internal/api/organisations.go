package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
)

func (h *Handler) listOrganisations(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	os, err := h.orgs.ListOrganisations(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(os)})
}

func (h *Handler) createOrganisation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in org.OrganisationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	o, err := h.orgs.CreateOrganisation(r.Context(), c.Principal, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/organisations/"+o.ID, o)
}

func (h *Handler) getOrganisation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	o, err := h.orgs.Organisation(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, o)
}

// updateOrganisation applies a partial update: OrganisationInput's fields
// are pointers, and those left out of the body stay as they are.
func (h *Handler) updateOrganisation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in org.OrganisationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	o, err := h.orgs.UpdateOrganisation(r.Context(), c.Principal, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, o)
}
