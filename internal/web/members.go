package web

import (
	"io"
	"net/http"
	"net/url"
	"strconv"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/org"
)

// registerMembers adds the authoriser's portal: invitations, members,
// bulk intake, and the public invitation page.
func (h *Handler) registerMembers(mux *http.ServeMux) {
	h.handle(mux, "GET /sites/{id}/invitations/new", signedIn, h.invitationNewForm)
	h.handle(mux, "POST /sites/{id}/invitations", signedIn, h.invitationCreate)
	h.handle(mux, "GET /sites/{id}/invitations", signedIn, h.invitationHistory)
	h.handle(mux, "GET /sites/{id}/invitations/{inv}/edit", signedIn, h.invitationEditForm)
	h.handle(mux, "POST /sites/{id}/invitations/{inv}", signedIn, h.invitationUpdate)
	h.handle(mux, "POST /sites/{id}/invitations/{inv}/resend", signedIn, h.invitationResend)
	h.handle(mux, "POST /sites/{id}/invitations/{inv}/cancel", signedIn, h.invitationCancel)
	h.handle(mux, "GET /sites/{id}/memberships", signedIn, h.membershipHistory)
	h.handle(mux, "GET /sites/{id}/members/{mid}", signedIn, h.memberPage)
	h.handle(mux, "POST /sites/{id}/members/{mid}", signedIn, h.memberUpdate)
	h.handle(mux, "POST /sites/{id}/members/{mid}/deactivate", signedIn, h.memberDeactivate)
	h.handle(mux, "POST /sites/{id}/members/{mid}/remove", signedIn, h.memberRemove)
	h.handle(mux, "POST /sites/{id}/members/{mid}/reactivate", signedIn, h.memberReactivate)
	h.handle(mux, "GET /sites/{id}/intake", signedIn, h.intakeForm)
	h.handle(mux, "GET /sites/{id}/intake/template.csv", signedIn, h.intakeTemplate)
	h.handle(mux, "POST /sites/{id}/intake", signedIn, h.intakePreview)
	h.handle(mux, "POST /sites/{id}/intake/{intake}/confirm", signedIn, h.intakeConfirm)
	h.handle(mux, "GET /invitations/{token}", public, h.acceptForm)
	h.handle(mux, "POST /invitations/{token}", public, h.accept)
}

// invitationFormData is what invitation_form.html shows.
type invitationFormData struct {
	Site       *org.Site
	Org        *org.Organisation
	Invitation *member.Invitation // nil for a new invitation
	Categories []string
	Roles      []string
}

// siteFor loads the site named in the path for a page of the authoriser's
// portal; the member service checks who may see it.
func (h *Handler) siteFor(r *http.Request) (*org.Site, *org.Organisation, error) {
	ctx, p := r.Context(), principal(r)
	site, err := h.orgs.Site(ctx, p, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	o, err := h.orgs.Organisation(ctx, p, site.OrganisationID)
	if err != nil {
		return nil, nil, err
	}
	if !p.Authorises(site.ID) && !p.IsAdmin() {
		return nil, nil, errs.E(errs.Forbidden, "Only this site's authorisers can manage its members and invitations")
	}
	return site, o, nil
}

// inviterSite loads the site in the path for a page that invites people
// to it: its own authorisers only. It answers the refusal itself.
func (h *Handler) inviterSite(w http.ResponseWriter, r *http.Request) (*org.Site, *org.Organisation, bool) {
	site, o, err := h.siteFor(r)
	if err == nil && !principal(r).Authorises(site.ID) {
		err = errs.E(errs.Forbidden, "Only this site's authorisers can invite people to it")
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, nil, false
	}
	return site, o, true
}

func (h *Handler) invitationFormPage(w http.ResponseWriter, r *http.Request, status int, pg *Page, inv *member.Invitation) {
	site, o, ok := h.inviterSite(w, r)
	if !ok {
		return
	}
	pg.Title, pg.Nav = "Add a new user", "sites"
	if inv != nil {
		pg.Title = "Change an invitation"
	}
	pg.Data = &invitationFormData{Site: site, Org: o, Invitation: inv, Categories: member.JobCategories, Roles: accessreq.Roles}
	h.render(w, r, status, "invitation_form", pg)
}

func (h *Handler) invitationNewForm(w http.ResponseWriter, r *http.Request) {
	h.invitationFormPage(w, r, http.StatusOK, &Page{}, nil)
}

func invitationInput(r *http.Request) member.InvitationInput {
	f := r.PostFormValue
	return member.InvitationInput{GivenName: f("given_name"), FamilyName: f("family_name"), Email: f("email"), Phone: f("phone"),
		JobTitle: f("job_title"), JobCategory: f("job_category"), RecordRole: f("record_role"), FinishingDate: f("finishing_date"),
		IGConfirmed: f("ig_confirmed") == "yes"}
}

func (h *Handler) invitationCreate(w http.ResponseWriter, r *http.Request) {
	i, err := h.members.Invite(r.Context(), principal(r), r.PathValue("id"), invitationInput(r))
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.invitationFormPage(w, r, status, pg, nil) })
		return
	}
	h.redirect(w, r, "/sites/"+i.SiteID, "An invitation has been sent to "+i.Email+". It expires on "+i.ExpiresAt.In(london).Format("2 January 2006")+".")
}

// invitation loads the invitation in the path, which must belong to the
// site in the path.
func (h *Handler) invitation(r *http.Request) (*member.Invitation, error) {
	i, err := h.members.Invitation(r.Context(), principal(r), r.PathValue("inv"))
	if err != nil {
		return nil, err
	}
	if i.SiteID != r.PathValue("id") {
		return nil, errs.E(errs.NotFound, "There is no such invitation for this site")
	}
	return i, nil
}

func (h *Handler) invitationEditForm(w http.ResponseWriter, r *http.Request) {
	i, err := h.invitation(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	form := map[string][]string{"given_name": {i.GivenName}, "family_name": {i.FamilyName}, "email": {i.Email}, "phone": {i.Phone},
		"job_title": {i.JobTitle}, "job_category": {i.JobCategory}, "record_role": {i.RecordRole}, "finishing_date": {i.FinishingDate}}
	h.invitationFormPage(w, r, http.StatusOK, &Page{Form: form}, i)
}

func (h *Handler) invitationUpdate(w http.ResponseWriter, r *http.Request) {
	i, err := h.invitation(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.members.UpdateInvitation(r.Context(), principal(r), i.ID, invitationInput(r))
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.invitationFormPage(w, r, status, pg, i) })
		return
	}
	msg := "The invitation to " + u.Name() + " has been changed."
	if u.Email != i.Email {
		msg += " A new link has been sent to " + u.Email + "; the old one no longer works."
	}
	h.redirect(w, r, "/sites/"+u.SiteID, msg)
}

func (h *Handler) invitationResend(w http.ResponseWriter, r *http.Request) {
	i, err := h.invitation(r)
	if err == nil {
		i, err = h.members.Resend(r.Context(), principal(r), i.ID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/sites/"+i.SiteID, "The invitation has been sent to "+i.Email+" again with a new link. It still expires on "+
		i.ExpiresAt.In(london).Format("2 January 2006")+".")
}

func (h *Handler) invitationCancel(w http.ResponseWriter, r *http.Request) {
	i, err := h.invitation(r)
	if err == nil {
		i, err = h.members.CancelInvitation(r.Context(), principal(r), i.ID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/sites/"+i.SiteID, "The invitation to "+i.Email+" has been cancelled: its link no longer works.")
}

// historyData is what invitations.html and memberships.html show.
type historyData struct {
	Site        *org.Site
	Invitations []*member.Invitation
	Members     []*member.Member
}

func (h *Handler) invitationHistory(w http.ResponseWriter, r *http.Request) {
	site, _, err := h.siteFor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	all, err := h.members.Invitations(r.Context(), principal(r), site.ID, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "invitations", &Page{Title: "All invitations – " + site.Name, Nav: "sites", Data: &historyData{Site: site, Invitations: all}})
}

func (h *Handler) membershipHistory(w http.ResponseWriter, r *http.Request) {
	site, _, err := h.siteFor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	all, err := h.members.History(r.Context(), principal(r), site.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "memberships", &Page{Title: "All memberships – " + site.Name, Nav: "sites", Data: &historyData{Site: site, Members: all}})
}

// memberData is what member.html shows.
type memberData struct {
	Site       *org.Site
	Org        *org.Organisation
	M          *member.Member
	CanManage  bool
	Categories []string
	Reasons    []string
}

func (h *Handler) memberView(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	site, o, err := h.siteFor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m, err := h.members.Member(r.Context(), principal(r), site.ID, r.PathValue("mid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pg.Form == nil {
		pg.Form = map[string][]string{"given_name": {m.GivenName}, "family_name": {m.FamilyName}, "email": {m.Email}, "phone": {m.Phone},
			"job_title": {m.JobTitle}, "job_category": {m.JobCategory}, "finishing_date": {m.FinishingDate}}
	}
	pg.Title, pg.Nav = m.Name(), "sites"
	pg.Data = &memberData{Site: site, Org: o, M: m, CanManage: principal(r).Authorises(site.ID), Categories: member.JobCategories,
		Reasons: member.DeactivationReasons}
	h.render(w, r, status, "member", pg)
}

func (h *Handler) memberPage(w http.ResponseWriter, r *http.Request) {
	h.memberView(w, r, http.StatusOK, &Page{})
}

// memberDone finishes a member action: back to the site, saying what
// happened and which request was raised.
func (h *Handler) memberDone(w http.ResponseWriter, r *http.Request, out *member.Outcome, err error) {
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) {
			// Keep the member's details in the edit form beside the error.
			pg.Form = nil
			h.memberView(w, r, status, pg)
		})
		return
	}
	h.redirect(w, r, "/sites/"+out.Member.SiteID, out.Message)
}

func (h *Handler) memberUpdate(w http.ResponseWriter, r *http.Request) {
	f := r.PostFormValue
	out, err := h.members.UpdateMember(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid"), member.MemberEdit{
		GivenName: f("given_name"), FamilyName: f("family_name"), Email: f("email"), Phone: f("phone"), JobTitle: f("job_title"),
		JobCategory: f("job_category"), FinishingDate: f("finishing_date"), ClearFinishing: f("clear_finishing_date") == "yes"})
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.memberView(w, r, status, pg) })
		return
	}
	h.memberDone(w, r, out, nil)
}

func (h *Handler) memberDeactivate(w http.ResponseWriter, r *http.Request) {
	out, err := h.members.Deactivate(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid"), r.PostFormValue("reason"), r.PostFormValue("notes"))
	h.memberDone(w, r, out, err)
}

func (h *Handler) memberRemove(w http.ResponseWriter, r *http.Request) {
	out, err := h.members.Remove(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid"), r.PostFormValue("leaving_date"), r.PostFormValue("notes"))
	h.memberDone(w, r, out, err)
}

func (h *Handler) memberReactivate(w http.ResponseWriter, r *http.Request) {
	f := r.PostFormValue
	out, err := h.members.Reactivate(r.Context(), principal(r), r.PathValue("id"), r.PathValue("mid"), member.Attestations{
		DirectCare: f("attest_direct_care") == "yes", ToldMisuse: f("attest_told_misuse") == "yes", IGTraining: f("attest_ig_training") == "yes",
		FinishingDate: f("finishing_date")})
	h.memberDone(w, r, out, err)
}

// intakeData is what intake.html shows: the upload form, a preview, or
// the result.
type intakeData struct {
	Site   *org.Site
	Org    *org.Organisation
	Intake *member.Intake
	Header string
}

func (h *Handler) intakePage(w http.ResponseWriter, r *http.Request, status int, pg *Page, in *member.Intake) {
	site, o, ok := h.inviterSite(w, r)
	if !ok {
		return
	}
	pg.Title, pg.Nav = "Invite new staff from a file", "sites"
	pg.Data = &intakeData{Site: site, Org: o, Intake: in, Header: member.IntakeHeader}
	h.render(w, r, status, "intake", pg)
}

func (h *Handler) intakeForm(w http.ResponseWriter, r *http.Request) {
	h.intakePage(w, r, http.StatusOK, &Page{}, nil)
}

func (h *Handler) intakeTemplate(w http.ResponseWriter, r *http.Request) {
	if _, _, err := h.siteFor(r); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="new-staff.csv"`)
	io.WriteString(w, member.IntakeHeader+"\r\nJane,Smith,jane.smith@nhs.net,0113 496 0000,Foundation Doctor,Medical and dental,care_professional,2027-08-01\r\n")
}

func (h *Handler) intakePreview(w http.ResponseWriter, r *http.Request) {
	pg := &Page{}
	showErr := func(err error) {
		h.formErrorWith(w, r, pg, err, func(status int) { h.intakePage(w, r, status, pg, nil) })
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		showErr(&errs.Error{Code: errs.Invalid, Message: "Choose a CSV file to upload", Fields: []errs.FieldError{{Field: "file", Message: "Choose a CSV file to upload"}}})
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload))
	if err != nil {
		showErr(errs.E(errs.Invalid, "The file could not be read: try again"))
		return
	}
	in, err := h.members.PreviewIntake(r.Context(), principal(r), r.PathValue("id"), hdr.Filename, data)
	if err != nil {
		showErr(err)
		return
	}
	h.intakePage(w, r, http.StatusOK, pg, in)
}

func (h *Handler) intakeConfirm(w http.ResponseWriter, r *http.Request) {
	in, err := h.members.ConfirmIntake(r.Context(), principal(r), r.PathValue("id"), r.PathValue("intake"), r.PostFormValue("ig_confirmed") == "yes")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.intakePage(w, r, http.StatusOK, &Page{Flash: plural(in.Created, "invitation has", "invitations have") + " been sent."}, in)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// acceptData is what invitation_accept.html shows.
type acceptData struct {
	W *member.Welcome
}

func (h *Handler) acceptPage(w http.ResponseWriter, r *http.Request, status int, pg *Page) {
	wl, err := h.members.Welcome(r.Context(), r.PathValue("token"))
	if err != nil {
		h.invitationProblem(w, r, err)
		return
	}
	// The link is a secret: never sent on to another site.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	pg.Title = "Join " + wl.Invitation.SiteName
	pg.Data = &acceptData{W: wl}
	h.render(w, r, status, "invitation_accept", pg)
}

// invitationProblem shows a link that no longer works on a page of its own
// that says what to do.
func (h *Handler) invitationProblem(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	if e.Code != errs.NotFound && e.Code != errs.Conflict {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.render(w, r, http.StatusGone, "invitation_problem", &Page{Title: "This invitation link cannot be used", Data: e.Message})
}

func (h *Handler) acceptForm(w http.ResponseWriter, r *http.Request) {
	h.acceptPage(w, r, http.StatusOK, &Page{})
}

func (h *Handler) accept(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	a, err := h.members.Accept(r.Context(), c.Who(), r.PathValue("token"), r.PostFormValue("password"), r.PostFormValue("password_confirm"))
	if err != nil {
		if e := errs.As(err); e.Code == errs.Invalid {
			pg := &Page{}
			h.formErrorWith(w, r, pg, err, func(status int) { h.acceptPage(w, r, status, pg) })
			return
		}
		h.invitationProblem(w, r, err)
		return
	}
	msg := "You are now a member of " + a.Site + ". Sign in to see your training."
	if a.NewAccount {
		msg = "Your account is ready and you are a member of " + a.Site + ". Sign in with your e-mail address and new password to set up your authenticator app."
	}
	if a.Message != "" {
		msg += " " + a.Message
	}
	h.redirect(w, r, "/signin?email="+url.QueryEscape(a.Email), msg)
}

// london is the time zone dates are shown in.
var london = clock.London
