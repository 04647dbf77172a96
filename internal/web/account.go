package web

import (
	"net/http"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

type accountData struct {
	User          *auth.User
	Roles         []string
	Tokens        []auth.APIToken
	RecoveryLeft  int
	NewToken      string
	RecoveryCodes []string
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request, status int, d *accountData, pg *Page) {
	c := httpauth.From(r.Context())
	d.User = c.User
	d.Roles = c.Principal.Roles()
	var err error
	if d.Tokens, err = h.users.Tokens(r.Context(), c.User.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	d.RecoveryLeft, _ = h.users.RemainingRecoveryCodes(r.Context(), c.User.ID)
	pg.Title, pg.Nav, pg.Data = "Your account", "account", d
	h.render(w, r, status, "account", pg)
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	h.accountPage(w, r, http.StatusOK, &accountData{}, &Page{})
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	pw := r.PostFormValue("password")
	var err error
	if pw != r.PostFormValue("password_confirm") {
		err = &errs.Error{Code: errs.Invalid, Message: "The new passwords do not match",
			Fields: []errs.FieldError{{Field: "password_confirm", Message: "Enter the same new password twice"}}}
	} else {
		err = h.users.ChangePassword(r.Context(), c.Who(), c.Session, r.PostFormValue("current_password"), pw)
	}
	if err != nil {
		pg := &Page{}
		h.accountPageError(w, r, pg, err)
		return
	}
	h.redirect(w, r, "/account", "Your password has been changed")
}

func (h *Handler) accountPageError(w http.ResponseWriter, r *http.Request, pg *Page, err error) {
	e := pg
	h.formErrorWith(w, r, e, err, func(status int) { h.accountPage(w, r, status, &accountData{}, e) })
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if c.Principal.ViaToken {
		h.fail(w, r, errForbidden)
		return
	}
	secret, _, err := h.users.CreateToken(r.Context(), c.Who(), c.User.ID, r.PostFormValue("name"))
	if err != nil {
		h.accountPageError(w, r, &Page{}, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.accountPage(w, r, http.StatusOK, &accountData{NewToken: secret}, &Page{Flash: "Token created. Copy it now: it will not be shown again."})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if err := h.users.RevokeToken(r.Context(), c.Who(), c.User.ID, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/account", "The token has been revoked")
}

func (h *Handler) regenerateCodes(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	codes, err := h.users.RegenerateRecoveryCodes(r.Context(), c.Who(), c.User.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.accountPage(w, r, http.StatusOK, &accountData{RecoveryCodes: codes}, &Page{Flash: "New recovery codes issued; the old ones no longer work."})
}
