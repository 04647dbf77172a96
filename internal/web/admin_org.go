package web

import (
	"net/http"
	"strings"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/org"
)

// requireAdmin refuses everyone but programme administrators.
func (h *Handler) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if !principal(r).IsAdmin() {
		h.fail(w, r, errForbidden)
		return false
	}
	return true
}

func (h *Handler) adminIndex(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.IsAdmin() && !p.Has(authz.PrivacyOfficer) {
		h.fail(w, r, errForbidden)
		return
	}
	h.render(w, r, http.StatusOK, "admin", &Page{Title: "Administration", Nav: "admin"})
}

func (h *Handler) orgList(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	orgs, err := h.orgs.ListOrganisations(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "orgs", &Page{Title: "Partner organisations", Nav: "admin", Data: orgs})
}

type orgFormData struct {
	Org *org.Organisation // nil when creating
}

func (h *Handler) orgNewForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	h.render(w, r, http.StatusOK, "org_form", &Page{Title: "Add a partner organisation", Nav: "admin", Data: &orgFormData{},
		Form: map[string][]string{"status": {org.StatusActive}, "isa_level": {org.ISAReadOnly}, "routing": {org.RoutingSiteAuthoriser},
			"allowed_domains": {strings.Join(org.DefaultDomains, "\n")}}})
}

// orgInput reads the organisation form. Domains may be separated by commas,
// spaces or new lines.
func orgInput(r *http.Request) org.OrganisationInput {
	in := org.OrganisationInput{ODSCode: formPtr(r, "ods_code"), Name: formPtr(r, "name"), Status: formPtr(r, "status"),
		ISALevel: formPtr(r, "isa_level"), Routing: formPtr(r, "routing"), PasswordRecipient: formPtr(r, "password_recipient")}
	if v := formPtr(r, "allowed_domains"); v != nil {
		d := strings.FieldsFunc(*v, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' })
		in.AllowedDomains = &d
	}
	return in
}

func (h *Handler) orgCreate(w http.ResponseWriter, r *http.Request) {
	o, err := h.orgs.CreateOrganisation(r.Context(), principal(r), orgInput(r))
	if err != nil {
		h.formError(w, r, "org_form", &Page{Title: "Add a partner organisation", Nav: "admin", Data: &orgFormData{}}, err)
		return
	}
	h.redirect(w, r, "/admin/organisations/"+o.ID, o.Name+" has been added")
}

func (h *Handler) orgEditForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	o, err := h.orgs.Organisation(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "org_form", &Page{Title: "Change " + o.Name, Nav: "admin", Data: &orgFormData{Org: o},
		Form: map[string][]string{"ods_code": {o.ODSCode}, "name": {o.Name}, "status": {o.Status}, "isa_level": {o.ISALevel},
			"routing": {o.Routing}, "allowed_domains": {strings.Join(o.AllowedDomains, "\n")}, "password_recipient": {o.PasswordRecipient}}})
}

func (h *Handler) orgUpdate(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	o, err := h.orgs.UpdateOrganisation(r.Context(), p, r.PathValue("id"), orgInput(r))
	if err != nil {
		cur, err2 := h.orgs.Organisation(r.Context(), p, r.PathValue("id"))
		if err2 != nil {
			h.fail(w, r, err2)
			return
		}
		h.formError(w, r, "org_form", &Page{Title: "Change " + cur.Name, Nav: "admin", Data: &orgFormData{Org: cur}}, err)
		return
	}
	h.redirect(w, r, "/admin/organisations/"+o.ID, "The changes have been saved")
}

type orgData struct {
	Org         *org.Organisation
	Sites       []*org.Site
	ServiceDesk []org.Person
	SetupLink   string
}

func (h *Handler) orgView(w http.ResponseWriter, r *http.Request, status int, pg *Page, d *orgData) {
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	if !p.IsAdmin() {
		h.fail(w, r, errForbidden)
		return
	}
	var err error
	if d.Org, err = h.orgs.Organisation(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Sites, err = h.orgs.Sites(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.ServiceDesk, err = h.orgs.ServiceDeskStaff(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	pg.Title, pg.Nav, pg.Data = d.Org.Name, "admin", d
	h.render(w, r, status, "org", pg)
}

func (h *Handler) orgPage(w http.ResponseWriter, r *http.Request) {
	h.orgView(w, r, http.StatusOK, &Page{}, &orgData{})
}

func (h *Handler) orgFormError(w http.ResponseWriter, r *http.Request, err error) {
	pg := &Page{}
	h.formErrorWith(w, r, pg, err, func(status int) { h.orgView(w, r, status, pg, &orgData{}) })
}

func (h *Handler) siteCreate(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("site_name")
	s, err := h.orgs.CreateSite(r.Context(), principal(r), r.PathValue("id"), org.SiteInput{Name: &name})
	if err != nil {
		h.orgFormError(w, r, renameField(err, "name", "site_name"))
		return
	}
	h.redirect(w, r, "/admin/organisations/"+r.PathValue("id"), s.Name+" has been added")
}

func (h *Handler) appointServiceDesk(w http.ResponseWriter, r *http.Request) {
	a, err := h.orgs.AppointServiceDesk(r.Context(), principal(r), r.PathValue("id"), appointee(r))
	if err != nil {
		h.orgFormError(w, r, err)
		return
	}
	if a.SetupLink != "" {
		w.Header().Set("Cache-Control", "no-store")
		h.orgView(w, r, http.StatusOK, &Page{Flash: a.Person.Name + " is now on the service desk. Send them the one-time set-up link below."},
			&orgData{SetupLink: h.setupURL(r, a.SetupLink)})
		return
	}
	h.redirect(w, r, "/admin/organisations/"+r.PathValue("id"), a.Person.Name+" is now on the service desk")
}

func (h *Handler) removeServiceDesk(w http.ResponseWriter, r *http.Request) {
	if err := h.orgs.RemoveServiceDesk(r.Context(), principal(r), r.PathValue("id"), r.PathValue("user")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/organisations/"+r.PathValue("id"), "Removed from the service desk")
}
