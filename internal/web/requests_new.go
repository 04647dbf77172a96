package web

import (
	"net/http"
	"net/url"
	"strings"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
)

// requestFormData is what the request form offers.
type requestFormData struct {
	Desk        bool     // the person staffs a service desk: they choose the organisation
	DeskOrgs    []option // organisations of their desks
	Sites       []option // sites they may raise requests for
	Types       []option
	Roles       []option
	Reasons     []option
	Attests     []option
	ServiceName string
	Title       string // the title the request will get, once a type and name are known
}

// attestations are the authoriser's responsibilities from the authoriser
// guide, in its words, that a request carries.
var attestations = []option{
	{"attest_direct_care", "This access is for direct care only.", ""},
	{"attest_told_misuse", "I have told them they must not use the record to look at their own, their colleagues', or their friends' and family's information, whatever the motive: this would be inappropriate use and would be investigated.", ""},
	{"attest_ig_training", "Their information governance training is up to date and they understand the importance of looking after the data.", ""},
}

// requestForm gathers the choices of the request form for the person.
func (h *Handler) requestForm(r *http.Request) (*requestFormData, error) {
	ctx, p := r.Context(), principal(r)
	if !mayRaise(p) {
		return nil, errs.E(errs.Forbidden, "Only site authorisers and service-desk staff raise access requests")
	}
	d := &requestFormData{Desk: len(p.ServiceDeskOf) > 0, Types: typeOptions(), Attests: attestations,
		ServiceName: h.access.Config().ServiceName}
	for _, role := range accessreq.Roles {
		d.Roles = append(d.Roles, option{role, roleLabels[role], roleHints[role]})
	}
	for _, reason := range accessreq.Reasons {
		d.Reasons = append(d.Reasons, option{reason, reasonLabels[reason], ""})
	}
	n := h.names(ctx, p)
	seen := map[string]bool{}
	addSites := func(sites []*org.Site) {
		for _, s := range sites {
			if seen[s.ID] || s.Status != org.SiteActive {
				continue
			}
			seen[s.ID] = true
			d.Sites = append(d.Sites, option{s.ID, s.Name + " (" + n.org(s.OrganisationID) + ")", ""})
		}
	}
	for _, id := range p.ServiceDeskOf {
		d.DeskOrgs = append(d.DeskOrgs, option{id, n.org(id), ""})
		sites, err := h.orgs.Sites(ctx, p, id)
		if err != nil {
			return nil, err
		}
		addSites(sites)
	}
	sites, err := h.orgs.AuthorisedSites(ctx, p)
	if err != nil {
		return nil, err
	}
	addSites(sites)
	return d, nil
}

// titleFor is the title a request with the typed values will get.
func (d *requestFormData) titleFor(form url.Values) {
	name := strings.TrimSpace(strings.TrimSpace(form.Get("given_name")) + " " + strings.TrimSpace(form.Get("family_name")))
	if form.Get("type") != "" && accessreq.TypeLabel(form.Get("type")) != "" && name != "" {
		d.Title = accessreq.Title(d.ServiceName, form.Get("type"), name)
	}
}

func (h *Handler) requestNewForm(w http.ResponseWriter, r *http.Request) {
	d, err := h.requestForm(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	form := url.Values{}
	if len(d.Sites) == 1 && !d.Desk {
		form.Set("site_id", d.Sites[0].Value)
	}
	h.render(w, r, http.StatusOK, "requests_new", &Page{Title: "Request access to the record", Nav: "requests", Data: d, Form: form})
}

// requestInput reads the request form.
func requestInput(r *http.Request) accessreq.Input {
	f := r.PostForm
	return accessreq.Input{Type: f.Get("type"), OrganisationID: f.Get("organisation_id"), SiteID: f.Get("site_id"), Email: f.Get("email"),
		GivenName: f.Get("given_name"), FamilyName: f.Get("family_name"), JobTitle: f.Get("job_title"), Phone: f.Get("phone"),
		Role: f.Get("role"), NewEmail: f.Get("new_email"), FinishingDate: f.Get("finishing_date"), Reason: f.Get("reason"),
		LeavingDate: f.Get("leaving_date"), Notes: f.Get("notes"), AttestDirectCare: f.Get("attest_direct_care") == "yes",
		AttestToldMisuse: f.Get("attest_told_misuse") == "yes", AttestIGTraining: f.Get("attest_ig_training") == "yes"}
}

// siteNotOrganisation points an authoriser's "choose the organisation" error
// at the site list, the only place their form chooses it.
func siteNotOrganisation(err error) error {
	e := errs.As(err)
	if e.Code != errs.Invalid {
		return err
	}
	c := *e
	c.Fields = nil
	for _, f := range e.Fields {
		if f.Field == "organisation_id" {
			f = errs.FieldError{Field: "site_id", Message: "Choose the site they work at"}
			if c.Message == e.Fields[0].Message && len(e.Fields) == 1 {
				c.Message = f.Message
			}
		}
		c.Fields = append(c.Fields, f)
	}
	return &c
}

// requestCreate raises a request. An organisation whose site authorisers
// validate sends it straight to the back office; one with a service desk
// sends it to the desk first.
func (h *Handler) requestCreate(w http.ResponseWriter, r *http.Request) {
	d, err := h.requestForm(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := h.access.Raise(r.Context(), principal(r), requestInput(r))
	if err != nil {
		if !d.Desk {
			err = siteNotOrganisation(err)
		}
		d.titleFor(r.PostForm)
		h.formError(w, r, "requests_new", &Page{Title: "Request access to the record", Nav: "requests", Data: d}, err)
		return
	}
	msg := "Request " + req.Ref + " has been sent to the back office"
	if req.State == accessreq.StateSubmitted {
		msg = "Request " + req.Ref + " has been sent to your organisation's service desk to validate"
	}
	h.redirect(w, r, "/requests/"+req.ID, msg)
}
