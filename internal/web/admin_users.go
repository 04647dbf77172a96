package web

import (
	"net/http"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// renameField moves a field error to the name the page's form uses.
func renameField(err error, from, to string) error {
	e := errs.As(err)
	if e.Code != errs.Invalid {
		return err
	}
	c := *e
	c.Fields = append([]errs.FieldError(nil), e.Fields...)
	for i := range c.Fields {
		if c.Fields[i].Field == from {
			c.Fields[i].Field = to
		}
	}
	return &c
}

func (h *Handler) userList(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	q := r.URL.Query().Get("q")
	users, err := h.users.ListUsers(r.Context(), q, 200)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "users", &Page{Title: "Accounts", Nav: "admin", Data: users, Form: r.URL.Query()})
}

type userData struct {
	User      *auth.User
	AllRoles  []string
	SetupLink string
}

func (h *Handler) userNewForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	h.render(w, r, http.StatusOK, "user_new", &Page{Title: "Add an account", Nav: "admin", Data: &userData{AllRoles: auth.GlobalRoles}})
}

func (h *Handler) userCreate(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	c := httpauth.From(r.Context())
	u, err := h.users.CreateUser(r.Context(), c.Who(), auth.NewUser{Email: r.PostFormValue("email"),
		GivenName: r.PostFormValue("given_name"), FamilyName: r.PostFormValue("family_name"), Roles: r.PostForm["roles"]})
	if err != nil {
		h.formError(w, r, "user_new", &Page{Title: "Add an account", Nav: "admin", Data: &userData{AllRoles: auth.GlobalRoles}}, err)
		return
	}
	link, err := h.users.CreateSetupLink(r.Context(), c.Who(), u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, http.StatusCreated, "user", &Page{Title: u.Name(), Nav: "admin",
		Flash: "The account has been created. Send " + u.Name() + " the one-time set-up link below.",
		Data:  &userData{User: u, AllRoles: auth.GlobalRoles, SetupLink: h.setupURL(r, link)}})
}

func (h *Handler) userView(w http.ResponseWriter, r *http.Request, status int, pg *Page, d *userData) {
	if !h.requireAdmin(w, r) {
		return
	}
	u, err := h.users.User(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.User, d.AllRoles = u, auth.GlobalRoles
	pg.Title, pg.Nav, pg.Data = u.Name(), "admin", d
	h.render(w, r, status, "user", pg)
}

func (h *Handler) userPage(w http.ResponseWriter, r *http.Request) {
	h.userView(w, r, http.StatusOK, &Page{}, &userData{})
}

func (h *Handler) userFormError(w http.ResponseWriter, r *http.Request, err error) {
	pg := &Page{}
	h.formErrorWith(w, r, pg, err, func(status int) { h.userView(w, r, status, pg, &userData{}) })
}

func (h *Handler) userRoles(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := h.users.SetRoles(r.Context(), httpauth.From(r.Context()).Who(), r.PathValue("id"), r.PostForm["roles"]); err != nil {
		h.userFormError(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/users/"+r.PathValue("id"), "The roles have been saved")
}

func (h *Handler) userStatus(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	status := r.PostFormValue("status")
	if err := h.users.SetStatus(r.Context(), httpauth.From(r.Context()).Who(), r.PathValue("id"), status); err != nil {
		h.userFormError(w, r, err)
		return
	}
	msg := "The account has been reactivated"
	if status == auth.StatusDeactivated {
		msg = "The account has been deactivated and its sessions and tokens ended"
	}
	h.redirect(w, r, "/admin/users/"+r.PathValue("id"), msg)
}

func (h *Handler) userSetupLink(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	link, err := h.users.CreateSetupLink(r.Context(), httpauth.From(r.Context()).Who(), r.PathValue("id"))
	if err != nil {
		h.userFormError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.userView(w, r, http.StatusOK, &Page{Flash: "A new one-time set-up link has been issued. Earlier links no longer work."},
		&userData{SetupLink: h.setupURL(r, link)})
}
