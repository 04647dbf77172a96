package web

import (
	"html/template"
	"net/http"
	"strings"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/training"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if c.Principal == nil {
		if c.Session != nil {
			h.redirect(w, r, nextStep(c.Session.State), "")
			return
		}
		var demo []DemoAccount
		if h.demo != nil {
			demo = h.demo.Accounts
		}
		h.render(w, r, http.StatusOK, "start", &Page{Title: "Welcome", Data: demo})
		return
	}
	d := &homeData{ServiceName: h.access.Config().ServiceName, CanRaise: mayRaise(c.Principal)}
	d.Sites, _ = h.orgs.AuthorisedSites(r.Context(), c.Principal)
	acct, err := h.access.Account(r.Context(), c.Principal.UserID)
	if err == nil {
		d.Account = acct
	} else if errs.CodeOf(err) != errs.NotFound {
		h.fail(w, r, err)
		return
	}
	if h.training != nil {
		if d.Training, err = h.training.MyTraining(r.Context(), c.Principal); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "home", &Page{Title: "Home", Nav: "home", Data: d})
}

// homeData is the signed-in home page: the person's own access to the
// record, if they have a record account, and the sites they manage.
type homeData struct {
	Training    *training.Overview // the member's assigned modules
	Sites       []*org.Site
	Account     *accessreq.RecordAccount
	ServiceName string
	CanRaise    bool
}

// AccountStatus says whether the person's record account is usable, and why not.
func (d *homeData) AccountStatus() string {
	s := capitalise(d.Account.Status)
	if d.Account.StatusReason != "" {
		s += " (" + strings.ToLower(reasonLabels[d.Account.StatusReason]) + ")"
	}
	return s
}

// AccountRole names the record role of the person's account.
func (d *homeData) AccountRole() string {
	return (&requestView{Request: &accessreq.Request{Role: d.Account.Role}}).RoleLabel()
}

// safeNext keeps post-sign-in redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if c.Principal != nil {
		h.redirect(w, r, "/", "")
		return
	}
	// email pre-fills the address (after accepting an invitation).
	form := map[string][]string{"next": {safeNext(r.URL.Query().Get("next"))}}
	if e := r.URL.Query().Get("email"); len(e) <= 254 {
		form["email"] = []string{e}
	}
	h.render(w, r, http.StatusOK, "signin", &Page{Title: "Sign in", Form: form})
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	pg := &Page{Title: "Sign in"}
	var v errs.Validation
	if strings.TrimSpace(email) == "" {
		v.Add("email", "Enter your e-mail address")
	}
	if password == "" {
		v.Add("password", "Enter your password")
	}
	if err := v.Err(); err != nil {
		h.formError(w, r, "signin", pg, err)
		return
	}
	token, sess, err := h.users.SignIn(r.Context(), c.Who(), email, password)
	if err != nil {
		if errs.CodeOf(err) == errs.Forbidden {
			err = errs.E(errs.Unauthenticated, "%s", errs.As(err).Message)
		}
		h.formError(w, r, "signin", pg, err)
		return
	}
	if c.Token != "" {
		_ = h.users.SignOut(r.Context(), c.Who(), c.Token) // replace any earlier session
	}
	h.auth.SetSession(w, r, token)
	next := nextStep(sess.State)
	if n := safeNext(r.PostFormValue("next")); n != "/" {
		http.SetCookie(w, &http.Cookie{Name: "caregate_next", Value: n, Path: "/", HttpOnly: true, MaxAge: 600,
			Secure: h.auth.IsTLS(r), SameSite: http.SameSiteLaxMode})
	}
	h.redirect(w, r, next, "")
}

// finish sends a fully signed-in person where they were going.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, flash string) {
	next := "/"
	if ck, err := r.Cookie("caregate_next"); err == nil {
		next = safeNext(ck.Value)
		http.SetCookie(w, &http.Cookie{Name: "caregate_next", Path: "/", MaxAge: -1})
	}
	h.redirect(w, r, next, flash)
}

func (h *Handler) inState(w http.ResponseWriter, r *http.Request, state string) (*httpauth.Caller, bool) {
	c := httpauth.From(r.Context())
	if c.Session.State != state {
		h.redirect(w, r, nextStep(c.Session.State), "")
		return nil, false
	}
	return c, true
}

func (h *Handler) forcedPasswordForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.inState(w, r, auth.StatePassword); ok {
		h.render(w, r, http.StatusOK, "password_forced", &Page{Title: "Choose a new password"})
	}
}

func (h *Handler) forcedPassword(w http.ResponseWriter, r *http.Request) {
	c, ok := h.inState(w, r, auth.StatePassword)
	if !ok {
		return
	}
	pg := &Page{Title: "Choose a new password"}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_confirm") {
		h.formError(w, r, "password_forced", pg, &errs.Error{Code: errs.Invalid, Message: "The passwords do not match",
			Fields: []errs.FieldError{{Field: "password_confirm", Message: "Enter the same password twice"}}})
		return
	}
	if err := h.users.ChangePassword(r.Context(), c.Who(), c.Session, "", pw); err != nil {
		h.formError(w, r, "password_forced", pg, err)
		return
	}
	h.redirect(w, r, nextStep(c.Session.State), "Your new password is saved")
}

func (h *Handler) enrolForm(w http.ResponseWriter, r *http.Request) {
	c, ok := h.inState(w, r, auth.StateEnrol)
	if !ok {
		return
	}
	e, err := h.users.StartEnrol(r.Context(), c.Session, c.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "enrol", &Page{Title: "Set up your authenticator app", Data: enrolView(e)})
}

// enrolment is what the enrolment page shows.
type enrolment struct {
	Secret string
	QR     template.URL
}

// enrolView marks the QR code's data: URL as safe: html/template would
// otherwise refuse it in an img src. It is a PNG we generated, not input.
func enrolView(e *auth.Enrolment) *enrolment {
	qr := ""
	if strings.HasPrefix(e.QRImage, "data:image/png;base64,") {
		qr = e.QRImage
	}
	return &enrolment{Secret: e.Secret, QR: template.URL(qr)}
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	c, ok := h.inState(w, r, auth.StateEnrol)
	if !ok {
		return
	}
	codes, err := h.users.ConfirmEnrol(r.Context(), c.Who(), c.Session, r.PostFormValue("code"))
	if err != nil {
		e, err2 := h.users.StartEnrol(r.Context(), c.Session, c.User)
		if err2 != nil {
			h.fail(w, r, err2)
			return
		}
		h.formError(w, r, "enrol", &Page{Title: "Set up your authenticator app", Data: enrolView(e)}, err)
		return
	}
	// Shown once, never stored in clear: rendered directly, not redirected.
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, http.StatusOK, "recovery_codes", &Page{Title: "Save your recovery codes", Data: codes})
}

func (h *Handler) mfaForm(w http.ResponseWriter, r *http.Request) {
	c, ok := h.inState(w, r, auth.StateMFA)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "mfa", &Page{Title: "Enter your security code", Data: h.demoCode(c.User)})
}

// demoCode returns the current code of a demo account (demo mode only), so an
// evaluator can sign in without an authenticator app.
func (h *Handler) demoCode(u *auth.User) string {
	if h.demo == nil || u == nil {
		return ""
	}
	for _, a := range h.demo.Accounts {
		if a.Email == u.Email && a.TOTPSecret != "" {
			return auth.TOTPCode(a.TOTPSecret, h.clock.Now())
		}
	}
	return ""
}

func (h *Handler) mfa(w http.ResponseWriter, r *http.Request) {
	c, ok := h.inState(w, r, auth.StateMFA)
	if !ok {
		return
	}
	if err := h.users.VerifyMFA(r.Context(), c.Who(), c.Session, r.PostFormValue("code")); err != nil {
		h.formError(w, r, "mfa", &Page{Title: "Enter your security code", Data: h.demoCode(c.User)}, err)
		return
	}
	h.finish(w, r, "")
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if c.Token != "" {
		if err := h.users.SignOut(r.Context(), c.Who(), c.Token); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.auth.ClearSession(w, r)
	h.redirect(w, r, "/signin", "You have signed out")
}

func (h *Handler) setupForm(w http.ResponseWriter, r *http.Request) {
	u, err := h.users.SetupUser(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.render(w, r, http.StatusOK, "setup", &Page{Title: "Set up your account", Data: u})
}

func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	token := r.PathValue("token")
	u, err := h.users.SetupUser(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pg := &Page{Title: "Set up your account", Data: u}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_confirm") {
		h.formError(w, r, "setup", pg, &errs.Error{Code: errs.Invalid, Message: "The passwords do not match",
			Fields: []errs.FieldError{{Field: "password_confirm", Message: "Enter the same password twice"}}})
		return
	}
	if _, err := h.users.CompleteSetup(r.Context(), c.Who(), token, pw); err != nil {
		h.formError(w, r, "setup", pg, err)
		return
	}
	h.redirect(w, r, "/signin", "Your password is set. Sign in to set up your authenticator app.")
}
