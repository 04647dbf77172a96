package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
)

// appointment is the result of appointing a site authoriser or service-desk
// member. SetupLink is present only when a new account was created: it is
// the one-time link with which that person chooses their password, shown
// here once and stored only as a hash.
type appointment struct {
	Person         org.Person `json:"person"`
	AccountCreated bool       `json:"account_created"`
	SetupLink      string     `json:"setup_link,omitempty"`
}

func (h *Handler) appointmentOf(r *http.Request, a *org.Appointment) appointment {
	out := appointment{Person: a.Person, AccountCreated: a.Created}
	if a.SetupLink != "" {
		out.SetupLink = h.setupLink(r, a.SetupLink)
	}
	return out
}

// setupLink is the portal address of a one-time set-up token, on the host
// the caller reached us by.
func (h *Handler) setupLink(r *http.Request, token string) string {
	scheme := "http"
	if h.auth.IsTLS(r) {
		scheme = "https"
	}
	if h.baseURL != "" {
		return h.baseURL + "/setup/" + token
	}
	return scheme + "://" + r.Host + "/setup/" + token
}

func (h *Handler) listAuthorisers(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	site, err := h.orgs.Site(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	people, err := h.orgs.Authorisers(r.Context(), c.Principal, site)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(people)})
}

func (h *Handler) appointAuthoriser(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in org.Appointee
	if err := decode(r, &in); err != nil {
		return err
	}
	siteID := r.PathValue("id")
	a, err := h.orgs.AppointAuthoriser(r.Context(), c.Principal, siteID, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/sites/"+siteID+"/authorisers/"+a.Person.UserID, h.appointmentOf(r, a))
}

func (h *Handler) removeAuthoriser(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := h.orgs.RemoveAuthoriser(r.Context(), c.Principal, r.PathValue("id"), r.PathValue("user")); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) listServiceDesk(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	people, err := h.orgs.ServiceDeskStaff(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(people)})
}

func (h *Handler) appointServiceDesk(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in org.Appointee
	if err := decode(r, &in); err != nil {
		return err
	}
	orgID := r.PathValue("id")
	a, err := h.orgs.AppointServiceDesk(r.Context(), c.Principal, orgID, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/organisations/"+orgID+"/service-desk/"+a.Person.UserID, h.appointmentOf(r, a))
}

func (h *Handler) removeServiceDesk(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := h.orgs.RemoveServiceDesk(r.Context(), c.Principal, r.PathValue("id"), r.PathValue("user")); err != nil {
		return err
	}
	return noContent(w)
}
