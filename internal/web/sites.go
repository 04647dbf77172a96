package web

import (
	"net/http"

	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/training"
)

type siteData struct {
	Site        *org.Site
	Org         *org.Organisation
	Authorisers []org.Person
	Members     []org.Person
	SetupLink   string                             // shown once after appointing a new person
	Training    map[string]training.MemberProgress // members' training by user id, for its authorisers and administrators
	// For its authorisers and administrators: the authoriser's portal.
	Portal      bool
	CanManage   bool // one of its authorisers
	Invitations []*member.Invitation
	Current     []*member.Member
}

// manageSites lists the sites the signed-in person authorises.
func (h *Handler) manageSites(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.IsAuthoriser() && !p.IsAdmin() {
		h.fail(w, r, errForbidden)
		return
	}
	sites, err := h.orgs.AuthorisedSites(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "sites", &Page{Title: "Manage sites", Nav: "sites", Data: sites})
}

// siteView gathers a site page, loading the site and its organisation once;
// the services refuse people who may not see it. Its authorisers and
// programme administrators see the authoriser's portal: the member service
// opens the site for them (its check), and every list reads from that.
func (h *Handler) siteView(w http.ResponseWriter, r *http.Request, status int, pg *Page, d *siteData) {
	ctx, p, id := r.Context(), principal(r), r.PathValue("id")
	var err error
	var pl *member.Place
	if h.members != nil && (p.Authorises(id) || p.IsAdmin()) {
		if pl, err = h.members.Open(ctx, p, id); err != nil {
			h.fail(w, r, err)
			return
		}
		d.Site, d.Org = pl.Site(), pl.Org()
	} else if d.Site, d.Org, err = h.orgs.SiteWithOrganisation(ctx, p, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Authorisers, err = h.orgs.Authorisers(ctx, p, d.Site); err != nil {
		h.fail(w, r, err)
		return
	}
	if pl != nil {
		d.Portal, d.CanManage = true, pl.CanManage()
		if d.Invitations, err = h.members.Invitations(ctx, pl, false); err != nil {
			h.fail(w, r, err)
			return
		}
		if d.Current, err = h.members.Members(ctx, pl); err != nil {
			h.fail(w, r, err)
			return
		}
	} else {
		if d.Members, err = h.orgs.Members(ctx, p, d.Site); err != nil {
			h.fail(w, r, err)
			return
		}
		d.Training = h.siteTraining(r, id)
	}
	pg.Title, pg.Nav, pg.Data = d.Site.Name, "sites", d
	h.render(w, r, status, "site", pg)
}

func (h *Handler) sitePage(w http.ResponseWriter, r *http.Request) {
	h.siteView(w, r, http.StatusOK, &Page{}, &siteData{})
}

func (h *Handler) siteFormError(w http.ResponseWriter, r *http.Request, err error) {
	pg := &Page{}
	h.formErrorWith(w, r, pg, err, func(status int) { h.siteView(w, r, status, pg, &siteData{}) })
}

// siteUpdate renames, closes or reopens a site (administrators).
func (h *Handler) siteUpdate(w http.ResponseWriter, r *http.Request) {
	in := org.SiteInput{Name: formPtr(r, "name"), Status: formPtr(r, "status")}
	s, err := h.orgs.UpdateSite(r.Context(), principal(r), r.PathValue("id"), in)
	if err != nil {
		h.siteFormError(w, r, err)
		return
	}
	h.redirect(w, r, "/sites/"+s.ID, "The site has been updated")
}

func (h *Handler) appointAuthoriser(w http.ResponseWriter, r *http.Request) {
	a, err := h.orgs.AppointAuthoriser(r.Context(), principal(r), r.PathValue("id"), appointee(r))
	if err != nil {
		h.siteFormError(w, r, err)
		return
	}
	if a.SetupLink != "" {
		w.Header().Set("Cache-Control", "no-store")
		h.siteView(w, r, http.StatusOK, &Page{Flash: a.Person.Name + " is now a site authoriser. Send them the one-time set-up link below."},
			&siteData{SetupLink: h.setupURL(r, a.SetupLink)})
		return
	}
	h.redirect(w, r, "/sites/"+r.PathValue("id"), a.Person.Name+" is now a site authoriser")
}

func (h *Handler) removeAuthoriser(w http.ResponseWriter, r *http.Request) {
	if err := h.orgs.RemoveAuthoriser(r.Context(), principal(r), r.PathValue("id"), r.PathValue("user")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/sites/"+r.PathValue("id"), "The site authoriser has been removed")
}

func appointee(r *http.Request) org.Appointee {
	return org.Appointee{Email: r.PostFormValue("email"), GivenName: r.PostFormValue("given_name"), FamilyName: r.PostFormValue("family_name")}
}

// formPtr returns a pointer to a submitted field, or nil when the form did
// not carry it (so that an update leaves it unchanged).
func formPtr(r *http.Request, name string) *string {
	if _, ok := r.PostForm[name]; !ok {
		return nil
	}
	v := r.PostForm.Get(name)
	return &v
}

// setupURL turns a set-up token into the link to send.
func (h *Handler) setupURL(r *http.Request, token string) string {
	scheme := "http"
	if h.auth.IsTLS(r) {
		scheme = "https"
	}
	if h.baseURL != "" {
		return h.baseURL + "/setup/" + token
	}
	return scheme + "://" + r.Host + "/setup/" + token
}
