package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
)

func (h *Handler) listSites(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	sites, err := h.orgs.Sites(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(sites)})
}

func (h *Handler) createSite(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in org.SiteInput
	if err := decode(r, &in); err != nil {
		return err
	}
	site, err := h.orgs.CreateSite(r.Context(), c.Principal, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/sites/"+site.ID, site)
}

func (h *Handler) getSite(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	site, err := h.orgs.Site(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, site)
}

func (h *Handler) updateSite(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in org.SiteInput
	if err := decode(r, &in); err != nil {
		return err
	}
	site, err := h.orgs.UpdateSite(r.Context(), c.Principal, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, site)
}

func (h *Handler) listMembers(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	site, err := h.orgs.Site(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	people, err := h.orgs.Members(r.Context(), c.Principal, site)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(people)})
}
