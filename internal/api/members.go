package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/member"
)

// The authoriser's portal: invitations, memberships and bulk intake. The
// member service checks who may do what; the handlers decode, call it and
// answer. Invitation links are accepted through POST bodies, so the token
// never appears in a URL or an access log.

// Who may call the authoriser's portal routes, as documented.
const (
	rolesSiteManage  = "site_authoriser of the site"
	rolesSitePortal  = "admin; site_authoriser of the site"
	rolesInvitation  = "site_authoriser of the invitation's site"
	rolesInviteeLink = rolesPublic // whoever holds the invitation link; its token goes in the body
)

// invitationToken is the body of POST /invitations/lookup.
type invitationToken struct {
	Token string `json:"token"`
}

// acceptance is the body of POST /invitations/accept. The password is
// needed only by someone who has no CareGate account yet.
type acceptance struct {
	Token           string `json:"token"`
	Password        string `json:"password"`
	PasswordConfirm string `json:"password_confirm"`
}

// deactivation, removal: bodies of the member actions.
type deactivation struct {
	Reason string `json:"reason"` // maternity_leave | long_term_sickness | other
	Notes  string `json:"notes"`  // required for other
}

type removal struct {
	LeavingDate string `json:"leaving_date"` // YYYY-MM-DD
	Notes       string `json:"notes"`
}

// intakeBodyLimit bounds the body of POST /sites/{id}/intakes. The file's
// text travels in a JSON string, where its line ends and quotes are
// escaped, so the body may be larger than the file: twice the file's limit
// leaves room for that, and the member service measures the file itself.
const intakeBodyLimit = 2 * member.MaxIntakeBytes

// intakeUpload is the body of POST /sites/{id}/intakes: the CSV file's text.
type intakeUpload struct {
	FileName string `json:"file_name"`
	Content  string `json:"content"`
}

// intakeConfirmation is the body of POST /sites/{id}/intakes/{intake}/confirm.
type intakeConfirmation struct {
	IGConfirmed bool `json:"ig_confirmed"`
}

var (
	invitationListParams = []Param{{Name: "all", Description: "true: the whole history, including accepted, cancelled and expired invitations; otherwise only those pending"}}
	membershipListParams = []Param{{Name: "status", Description: "active: current members with training progress; left out: every membership, deactivated and removed ones included"}}
)

func (h *Handler) memberRoutes() []Route {
	inv := &member.Invitation{}
	out := &member.Outcome{}
	return []Route{
		{Method: "GET", Path: "/sites/{id}/invitations", Summary: "A site's pending invitations, or (all=true) every invitation it has sent, newest first", Roles: rolesSitePortal,
			Query: invitationListParams, Response: listOf[member.Invitation]{}, serve: h.listInvitations},
		{Method: "POST", Path: "/sites/{id}/invitations", Summary: "Invite someone to a site: e-mails a single-use link that expires after 30 days", Roles: rolesSiteManage,
			Status: http.StatusCreated, Request: member.InvitationInput{}, Response: inv, serve: h.createInvitation},
		{Method: "GET", Path: "/invitations/{id}", Summary: "Get an invitation", Roles: rolesSitePortal,
			Response: inv, serve: h.getInvitation},
		{Method: "PUT", Path: "/invitations/{id}", Summary: "Correct a pending invitation (a new e-mail address gets a new link; the expiry stays)", Roles: rolesInvitation,
			Request: member.InvitationInput{}, Response: inv, serve: h.updateInvitation},
		{Method: "POST", Path: "/invitations/{id}/resend", Summary: "Send a pending invitation again with a new link; the expiry stays the same", Roles: rolesInvitation,
			Response: inv, serve: h.resendInvitation},
		{Method: "POST", Path: "/invitations/{id}/cancel", Summary: "Cancel a pending invitation: its link stops working; it stays in the history", Roles: rolesInvitation,
			Response: inv, serve: h.cancelInvitation},
		{Method: "DELETE", Path: "/invitations/{id}", Summary: "Cancel a pending invitation (as POST /invitations/{id}/cancel)", Roles: rolesInvitation,
			Response: inv, serve: h.cancelInvitation},
		{Method: "POST", Path: "/invitations/lookup", Summary: "Who invited the holder of an invitation link (token in the body) to which site, and whether they already have an account", Roles: rolesInviteeLink,
			access: public, Request: invitationToken{}, Response: member.Welcome{}, serve: h.lookupInvitation},
		{Method: "POST", Path: "/invitations/accept", Summary: "Accept an invitation by its link's token: join the site (a new person also chooses a password, then enrols MFA at first sign-in)", Roles: rolesInviteeLink,
			access: public, Request: acceptance{}, Response: member.Acceptance{}, serve: h.acceptInvitation},

		{Method: "GET", Path: "/sites/{id}/memberships", Summary: "A site's memberships: current members with training progress (status=active), or the whole history", Roles: rolesSitePortal,
			Query: membershipListParams, Response: listOf[member.Member]{}, serve: h.listMemberships},
		{Method: "GET", Path: "/sites/{id}/memberships/{mid}", Summary: "Get one membership of a site", Roles: rolesSitePortal,
			Response: &member.Member{}, serve: h.getMembership},
		{Method: "PATCH", Path: "/sites/{id}/memberships/{mid}", Summary: "Edit a member's details (fields left out are unchanged); a new e-mail address raises an amendment request", Roles: rolesSiteManage,
			Request: member.MemberEdit{}, Response: out, serve: h.updateMembership},
		{Method: "POST", Path: "/sites/{id}/memberships/{mid}/deactivate", Summary: "Deactivate a member (maternity leave, long-term sickness, other): raises a deactivation request", Roles: rolesSiteManage,
			Request: deactivation{}, Response: out, serve: h.deactivateMembership},
		{Method: "POST", Path: "/sites/{id}/memberships/{mid}/remove", Summary: "Remove a leaver permanently, with their leaving date: raises a deletion request", Roles: rolesSiteManage,
			Request: removal{}, Response: out, serve: h.removeMembership},
		{Method: "POST", Path: "/sites/{id}/memberships/{mid}/reactivate", Summary: "Reactivate a deactivated member, keeping their training: raises a reactivation request", Roles: rolesSiteManage,
			Request: member.Attestations{}, Response: out, serve: h.reactivateMembership},

		{Method: "POST", Path: "/sites/{id}/intakes", Summary: "Upload a CSV file of new staff: every row checked, with errors by line; nothing is sent yet", Roles: rolesSiteManage,
			Status: http.StatusCreated, Request: intakeUpload{}, Response: &member.Intake{}, bodyLimit: intakeBodyLimit, tooLarge: member.IntakeTooLarge(), serve: h.previewIntake},
		{Method: "POST", Path: "/sites/{id}/intakes/{intake}/confirm", Summary: "Invite every valid row of an uploaded file, in one transaction; rows already done are skipped", Roles: rolesSiteManage,
			Request: intakeConfirmation{}, Response: &member.Intake{}, serve: h.confirmIntake},
	}
}

// place opens the site in the path: the one load of the site and its
// organisation for the request, and the check of who may see them.
func (h *Handler) place(r *http.Request, c *httpauth.Caller) (*member.Place, error) {
	return h.members.Open(r.Context(), c.Principal, r.PathValue("id"))
}

// invitationPlace opens the site of the invitation in the path.
func (h *Handler) invitationPlace(r *http.Request, c *httpauth.Caller) (*member.Place, error) {
	_, pl, err := h.members.OpenInvitation(r.Context(), c.Principal, r.PathValue("id"))
	return pl, err
}

func (h *Handler) listInvitations(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	all := r.URL.Query().Get("all")
	if all != "" && all != "true" && all != "false" {
		return errs.E(errs.Invalid, "all must be true or false")
	}
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	l, err := h.members.Invitations(r.Context(), pl, all == "true")
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: l})
}

func (h *Handler) createInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in member.InvitationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	i, err := h.members.Invite(r.Context(), pl, in)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/invitations/"+i.ID, i)
}

func (h *Handler) getInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	i, _, err := h.members.OpenInvitation(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, i)
}

func (h *Handler) updateInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in member.InvitationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	pl, err := h.invitationPlace(r, c)
	if err != nil {
		return err
	}
	i, err := h.members.UpdateInvitation(r.Context(), pl, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, i)
}

func (h *Handler) resendInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	pl, err := h.invitationPlace(r, c)
	if err != nil {
		return err
	}
	i, err := h.members.Resend(r.Context(), pl, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, i)
}

func (h *Handler) cancelInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	pl, err := h.invitationPlace(r, c)
	if err != nil {
		return err
	}
	i, err := h.members.CancelInvitation(r.Context(), pl, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, i)
}

func (h *Handler) lookupInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in invitationToken
	if err := decode(r, &in); err != nil {
		return err
	}
	wl, err := h.members.Welcome(r.Context(), in.Token)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.reply(w, http.StatusOK, wl)
}

func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in acceptance
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := h.members.Accept(r.Context(), c.Who(), in.Token, in.Password, in.PasswordConfirm)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}

func (h *Handler) listMemberships(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	status := r.URL.Query().Get("status")
	if status != "" && status != "active" {
		return errs.E(errs.Invalid, "status must be active or left out")
	}
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	var l []*member.Member
	if status == "active" {
		l, err = h.members.Members(r.Context(), pl)
	} else {
		l, err = h.members.History(r.Context(), pl)
	}
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: l})
}

func (h *Handler) getMembership(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	m, err := h.members.Member(r.Context(), pl, r.PathValue("mid"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, m)
}

// memberAction decodes a member action's body into in, opens the site and
// runs act on the membership in the path.
func memberAction[T any](h *Handler, w http.ResponseWriter, r *http.Request, c *httpauth.Caller, in *T,
	act func(pl *member.Place, mid string) (*member.Outcome, error)) error {
	if err := decode(r, in); err != nil {
		return err
	}
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	out, err := act(pl, r.PathValue("mid"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, out)
}

func (h *Handler) updateMembership(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in member.MemberEdit
	return memberAction(h, w, r, c, &in, func(pl *member.Place, mid string) (*member.Outcome, error) {
		return h.members.UpdateMember(r.Context(), pl, mid, in)
	})
}

func (h *Handler) deactivateMembership(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in deactivation
	return memberAction(h, w, r, c, &in, func(pl *member.Place, mid string) (*member.Outcome, error) {
		return h.members.Deactivate(r.Context(), pl, mid, in.Reason, in.Notes)
	})
}

func (h *Handler) removeMembership(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in removal
	return memberAction(h, w, r, c, &in, func(pl *member.Place, mid string) (*member.Outcome, error) {
		return h.members.Remove(r.Context(), pl, mid, in.LeavingDate, in.Notes)
	})
}

func (h *Handler) reactivateMembership(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in member.Attestations
	return memberAction(h, w, r, c, &in, func(pl *member.Place, mid string) (*member.Outcome, error) {
		return h.members.Reactivate(r.Context(), pl, mid, in)
	})
}

func (h *Handler) previewIntake(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in intakeUpload
	if err := decode(r, &in); err != nil {
		return err
	}
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	out, err := h.members.PreviewIntake(r.Context(), pl, in.FileName, []byte(in.Content))
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/sites/"+out.SiteID+"/intakes/"+out.ID, out)
}

func (h *Handler) confirmIntake(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	var in intakeConfirmation
	if err := decode(r, &in); err != nil {
		return err
	}
	pl, err := h.place(r, c)
	if err != nil {
		return err
	}
	out, err := h.members.ConfirmIntake(r.Context(), pl, r.PathValue("intake"), in.IGConfirmed)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, out)
}
