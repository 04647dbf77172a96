package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
)

// me describes the caller.
type me struct {
	ID                       string              `json:"id"`
	Email                    string              `json:"email"`
	GivenName                string              `json:"given_name"`
	FamilyName               string              `json:"family_name"`
	Name                     string              `json:"name"`
	Status                   string              `json:"status"`
	Roles                    []string            `json:"roles"`        // every portal role held
	GlobalRoles              []string            `json:"global_roles"` // region-wide roles only
	AuthorisedSites          []*org.Site         `json:"authorised_sites"`
	ServiceDeskOrganisations []*org.Organisation `json:"service_desk_organisations"`
	MemberOf                 []string            `json:"member_of"` // site ids of active memberships
	MFAEnabled               bool                `json:"mfa_enabled"`
	ViaToken                 bool                `json:"via_token"`
	// CSRFToken is given to session callers only: scripts running in the
	// signed-in browser send it as X-CSRF-Token on POST, PUT, PATCH and DELETE.
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (h *Handler) getMe(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	p, u := c.Principal, c.User
	sites, err := h.orgs.AuthorisedSites(r.Context(), p)
	if err != nil {
		return err
	}
	desks := []*org.Organisation{}
	for _, id := range p.ServiceDeskOf {
		o, err := h.orgs.Organisation(r.Context(), p, id)
		if err != nil {
			return err
		}
		desks = append(desks, o)
	}
	out := me{ID: p.UserID, Email: p.Email, Name: p.Name, Roles: nonNil(p.Roles()), GlobalRoles: nonNil(p.Global),
		AuthorisedSites: sites, ServiceDeskOrganisations: desks, MemberOf: nonNil(p.MemberOf), ViaToken: p.ViaToken}
	if u != nil {
		out.GivenName, out.FamilyName, out.Status, out.MFAEnabled = u.GivenName, u.FamilyName, u.Status, u.MFAEnabled
	}
	if c.Session != nil && !p.ViaToken {
		out.CSRFToken = h.auth.CSRFToken(w, r)
	}
	return h.reply(w, http.StatusOK, out)
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
