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
	h.handle(mux, "GET /sites/{id}/invitations/new", signedIn, h.atPlace(h.invitationNewForm))
	h.handle(mux, "POST /sites/{id}/invitations", signedIn, h.atPlace(h.invitationCreate))
	h.handle(mux, "GET /sites/{id}/invitations", signedIn, h.atPlace(h.invitationHistory))
	h.handle(mux, "GET /sites/{id}/invitations/{inv}/edit", signedIn, h.atPlace(h.invitationEditForm))
	h.handle(mux, "POST /sites/{id}/invitations/{inv}", signedIn, h.atPlace(h.invitationUpdate))
	h.handle(mux, "POST /sites/{id}/invitations/{inv}/resend", signedIn, h.atPlace(h.invitationResend))
	h.handle(mux, "POST /sites/{id}/invitations/{inv}/cancel", signedIn, h.atPlace(h.invitationCancel))
	h.handle(mux, "GET /sites/{id}/memberships", signedIn, h.atPlace(h.membershipHistory))
	h.handle(mux, "GET /sites/{id}/members/{mid}", signedIn, h.atPlace(h.memberPage))
	h.handle(mux, "POST /sites/{id}/members/{mid}", signedIn, h.atPlace(h.memberUpdate))
	h.handle(mux, "POST /sites/{id}/members/{mid}/deactivate", signedIn, h.atPlace(h.memberDeactivate))
	h.handle(mux, "POST /sites/{id}/members/{mid}/remove", signedIn, h.atPlace(h.memberRemove))
	h.handle(mux, "POST /sites/{id}/members/{mid}/reactivate", signedIn, h.atPlace(h.memberReactivate))
	h.handle(mux, "GET /sites/{id}/intake", signedIn, h.atPlace(h.intakeForm))
	h.handle(mux, "GET /sites/{id}/intake/template.csv", signedIn, h.atPlace(h.intakeTemplate))
	h.handle(mux, "POST /sites/{id}/intake", signedIn, h.atPlace(h.intakePreview))
	h.handle(mux, "POST /sites/{id}/intake/{intake}/confirm", signedIn, h.atPlace(h.intakeConfirm))
	h.handle(mux, "GET /invitations/{token}", public, h.acceptForm)
	h.handle(mux, "POST /invitations/{token}", public, h.accept)
}

// placeHandler serves a page of the authoriser's portal for the site opened
// for the request.
type placeHandler func(w http.ResponseWriter, r *http.Request, pl *member.Place)

// atPlace opens the site in the path once per request — the one load of
// the site and its organisation, and the member service's check of who may
// see them (its authorisers and programme administrators) — and hands it to
// fn, which passes it to every service call and page it makes. The service
// checks again, on the place, that whoever changes anything is one of the
// site's authorisers.
func (h *Handler) atPlace(fn placeHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pl, err := h.members.Open(r.Context(), principal(r), r.PathValue("id"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r, pl)
	}
}

// mayInvite refuses the pages that invite people to a site to all but its
// own authorisers (programme administrators only read).
func mayInvite(pl *member.Place) error {
	if !pl.CanManage() {
		return errs.E(errs.Forbidden, "Only this site's authorisers can invite people to it")
	}
	return nil
}

// invitationFormData is what invitation_form.html shows.
type invitationFormData struct {
	Site       *org.Site
	Org        *org.Organisation
	Invitation *member.Invitation // nil for a new invitation
	Categories []string
	Roles      []string
}

func (h *Handler) invitationFormPage(w http.ResponseWriter, r *http.Request, status int, pg *Page, pl *member.Place, inv *member.Invitation) {
	if err := mayInvite(pl); err != nil {
		h.fail(w, r, err)
		return
	}
	pg.Title, pg.Nav = "Add a new user", "sites"
	if inv != nil {
		pg.Title = "Change an invitation"
	}
	pg.Data = &invitationFormData{Site: pl.Site(), Org: pl.Org(), Invitation: inv, Categories: member.JobCategories, Roles: accessreq.Roles}
	h.render(w, r, status, "invitation_form", pg)
}

func (h *Handler) invitationNewForm(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	h.invitationFormPage(w, r, http.StatusOK, &Page{}, pl, nil)
}

func invitationInput(r *http.Request) member.InvitationInput {
	f := r.PostFormValue
	return member.InvitationInput{GivenName: f("given_name"), FamilyName: f("family_name"), Email: f("email"), Phone: f("phone"),
		JobTitle: f("job_title"), JobCategory: f("job_category"), RecordRole: f("record_role"), FinishingDate: f("finishing_date"),
		IGConfirmed: f("ig_confirmed") == "yes"}
}

func (h *Handler) invitationCreate(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	i, err := h.members.Invite(r.Context(), pl, invitationInput(r))
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.invitationFormPage(w, r, status, pg, pl, nil) })
		return
	}
	h.redirect(w, r, "/sites/"+i.SiteID, "An invitation has been sent to "+i.Email+". It expires on "+i.ExpiresAt.In(london).Format("2 January 2006")+".")
}

// invitation loads the invitation in the path, of the place's site, for
// one of its authorisers to change.
func (h *Handler) invitation(r *http.Request, pl *member.Place) (*member.Invitation, error) {
	if err := mayInvite(pl); err != nil {
		return nil, err
	}
	return h.members.Invitation(r.Context(), pl, r.PathValue("inv"))
}

func (h *Handler) invitationEditForm(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	i, err := h.invitation(r, pl)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	form := map[string][]string{"given_name": {i.GivenName}, "family_name": {i.FamilyName}, "email": {i.Email}, "phone": {i.Phone},
		"job_title": {i.JobTitle}, "job_category": {i.JobCategory}, "record_role": {i.RecordRole}, "finishing_date": {i.FinishingDate}}
	h.invitationFormPage(w, r, http.StatusOK, &Page{Form: form}, pl, i)
}

func (h *Handler) invitationUpdate(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	i, err := h.invitation(r, pl)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.members.UpdateInvitation(r.Context(), pl, i.ID, invitationInput(r))
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.invitationFormPage(w, r, status, pg, pl, i) })
		return
	}
	msg := "The invitation to " + u.Name() + " has been changed."
	if u.Email != i.Email {
		msg += " A new link has been sent to " + u.Email + "; the old one no longer works."
	}
	h.redirect(w, r, "/sites/"+u.SiteID, msg)
}

func (h *Handler) invitationResend(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	i, err := h.members.Resend(r.Context(), pl, r.PathValue("inv"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/sites/"+i.SiteID, "The invitation has been sent to "+i.Email+" again with a new link. It still expires on "+
		i.ExpiresAt.In(london).Format("2 January 2006")+".")
}

func (h *Handler) invitationCancel(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	i, err := h.members.CancelInvitation(r.Context(), pl, r.PathValue("inv"))
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

func (h *Handler) invitationHistory(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	all, err := h.members.Invitations(r.Context(), pl, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	site := pl.Site()
	h.render(w, r, http.StatusOK, "invitations", &Page{Title: "All invitations – " + site.Name, Nav: "sites", Data: &historyData{Site: site, Invitations: all}})
}

func (h *Handler) membershipHistory(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	all, err := h.members.History(r.Context(), pl)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	site := pl.Site()
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

func (h *Handler) memberView(w http.ResponseWriter, r *http.Request, status int, pg *Page, pl *member.Place) {
	m, err := h.members.Member(r.Context(), pl, r.PathValue("mid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pg.Form == nil {
		pg.Form = map[string][]string{"given_name": {m.GivenName}, "family_name": {m.FamilyName}, "email": {m.Email}, "phone": {m.Phone},
			"job_title": {m.JobTitle}, "job_category": {m.JobCategory}, "finishing_date": {m.FinishingDate}}
	}
	pg.Title, pg.Nav = m.Name(), "sites"
	pg.Data = &memberData{Site: pl.Site(), Org: pl.Org(), M: m, CanManage: pl.CanManage(), Categories: member.JobCategories,
		Reasons: member.DeactivationReasons}
	h.render(w, r, status, "member", pg)
}

func (h *Handler) memberPage(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	h.memberView(w, r, http.StatusOK, &Page{}, pl)
}

// memberDone finishes a member action: back to the site, saying what
// happened and which request was raised.
func (h *Handler) memberDone(w http.ResponseWriter, r *http.Request, pl *member.Place, out *member.Outcome, err error) {
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) {
			// Keep the member's details in the edit form beside the error.
			pg.Form = nil
			h.memberView(w, r, status, pg, pl)
		})
		return
	}
	h.redirect(w, r, "/sites/"+out.Member.SiteID, out.Message)
}

func (h *Handler) memberUpdate(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	f := r.PostFormValue
	out, err := h.members.UpdateMember(r.Context(), pl, r.PathValue("mid"), member.MemberEdit{
		GivenName: f("given_name"), FamilyName: f("family_name"), Email: f("email"), Phone: f("phone"), JobTitle: f("job_title"),
		JobCategory: f("job_category"), FinishingDate: f("finishing_date"), ClearFinishing: f("clear_finishing_date") == "yes"})
	if err != nil {
		pg := &Page{}
		h.formErrorWith(w, r, pg, err, func(status int) { h.memberView(w, r, status, pg, pl) })
		return
	}
	h.memberDone(w, r, pl, out, nil)
}

func (h *Handler) memberDeactivate(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	out, err := h.members.Deactivate(r.Context(), pl, r.PathValue("mid"), r.PostFormValue("reason"), r.PostFormValue("notes"))
	h.memberDone(w, r, pl, out, err)
}

func (h *Handler) memberRemove(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	out, err := h.members.Remove(r.Context(), pl, r.PathValue("mid"), r.PostFormValue("leaving_date"), r.PostFormValue("notes"))
	h.memberDone(w, r, pl, out, err)
}

func (h *Handler) memberReactivate(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	f := r.PostFormValue
	out, err := h.members.Reactivate(r.Context(), pl, r.PathValue("mid"), member.Attestations{
		DirectCare: f("attest_direct_care") == "yes", ToldMisuse: f("attest_told_misuse") == "yes", IGTraining: f("attest_ig_training") == "yes",
		FinishingDate: f("finishing_date")})
	h.memberDone(w, r, pl, out, err)
}

// intakeData is what intake.html shows: the upload form, a preview, or
// the result.
type intakeData struct {
	Site   *org.Site
	Org    *org.Organisation
	Intake *member.Intake
	Header string
}

func (h *Handler) intakePage(w http.ResponseWriter, r *http.Request, status int, pg *Page, pl *member.Place, in *member.Intake) {
	if err := mayInvite(pl); err != nil {
		h.fail(w, r, err)
		return
	}
	pg.Title, pg.Nav = "Invite new staff from a file", "sites"
	pg.Data = &intakeData{Site: pl.Site(), Org: pl.Org(), Intake: in, Header: member.IntakeHeader}
	h.render(w, r, status, "intake", pg)
}

func (h *Handler) intakeForm(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	h.intakePage(w, r, http.StatusOK, &Page{}, pl, nil)
}

// intakeTemplate is the example file, for whoever may see the site.
func (h *Handler) intakeTemplate(w http.ResponseWriter, r *http.Request, _ *member.Place) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="new-staff.csv"`)
	io.WriteString(w, member.IntakeHeader+"\r\nJane,Smith,jane.smith@nhs.net,0113 496 0000,Foundation Doctor,Medical and dental,care_professional,2027-08-01\r\n")
}

func (h *Handler) intakePreview(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	pg := &Page{}
	showErr := func(err error) {
		h.formErrorWith(w, r, pg, err, func(status int) { h.intakePage(w, r, status, pg, pl, nil) })
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
	in, err := h.members.PreviewIntake(r.Context(), pl, hdr.Filename, data)
	if err != nil {
		showErr(err)
		return
	}
	h.intakePage(w, r, http.StatusOK, pg, pl, in)
}

func (h *Handler) intakeConfirm(w http.ResponseWriter, r *http.Request, pl *member.Place) {
	in, err := h.members.ConfirmIntake(r.Context(), pl, r.PathValue("intake"), r.PostFormValue("ig_confirmed") == "yes")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.intakePage(w, r, http.StatusOK, &Page{Flash: plural(in.Created, "invitation has", "invitations have") + " been sent."}, pl, in)
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
