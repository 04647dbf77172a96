package web

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
)

// Demo describes demo mode: the accounts shown on the start page and the
// clock administrators may move forward. Nil outside demo mode.
type Demo struct {
	Accounts []DemoAccount
	Clock    *clock.Offset
}

// DemoAccount is a demo sign-in shown on the start page.
type DemoAccount struct {
	Role       string
	Email      string
	Password   string
	TOTPSecret string
}

// Deps are the services the portal uses.
type Deps struct {
	DB     *store.DB
	Users  *auth.Service
	Orgs   *org.Service
	Access *accessreq.Service
	Audit  *audit.Log
	Auth   *httpauth.Authenticator
	Clock  clock.Clock
	Assets *Assets
	Demo   *Demo
	Log    *slog.Logger
	// BaseURL is the public address used in links sent to people (set-up
	// links); empty means the address the request came in on.
	BaseURL string
	// Onboarding serves partner onboarding and the suspension banner; nil
	// leaves the banner out.
	Onboarding *onboarding.Service
	// Outbox says whether e-mail is delivered (it decides whether the
	// portal may show a pending one-time password); nil: it is not.
	Outbox *notify.Outbox
	// Training serves the training portal.
	Training *training.Service
	// Members serves the authoriser's portal (invitations and members).
	Members *member.Service
	// Record serves the record viewer; nil leaves it out.
	Record *record.Service
}

// Handler serves the portal pages.
type Handler struct {
	db        *store.DB
	users     *auth.Service
	orgs      *org.Service
	access    *accessreq.Service
	audit     *audit.Log
	auth      *httpauth.Authenticator
	clock     clock.Clock
	assets    *Assets
	demo      *Demo
	log       *slog.Logger
	templates map[string]*template.Template
	routes    []string
	baseURL   string

	onboarding *onboarding.Service
	outbox     *notify.Outbox
	training   *training.Service
	members    *member.Service
	record     *record.Service
}

// New parses the templates and returns the portal handler.
func New(d Deps) (*Handler, error) {
	t, err := parseTemplates(d.Assets)
	if err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Handler{db: d.DB, users: d.Users, orgs: d.Orgs, access: d.Access, audit: d.Audit, auth: d.Auth, clock: d.Clock,
		assets: d.Assets, demo: d.Demo, log: d.Log, templates: t, baseURL: strings.TrimSuffix(d.BaseURL, "/"),
		onboarding: d.Onboarding, outbox: d.Outbox, training: d.Training, members: d.Members, record: d.Record}, nil
}

// Routes lists the registered route patterns (for the permission matrix).
func (h *Handler) Routes() []string { return h.routes }

// access levels of a route.
type access int

const (
	public    access = iota // anyone
	signedIn                // a fully signed-in principal (roles checked by services)
	midSignIn               // a session part-way through sign-in
)

// Register adds the portal routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	h.handle(mux, "GET /{$}", public, h.home)
	h.handle(mux, "GET /signin", public, h.signinForm)
	h.handle(mux, "POST /signin", public, h.signin)
	h.handle(mux, "GET /signin/password", midSignIn, h.forcedPasswordForm)
	h.handle(mux, "POST /signin/password", midSignIn, h.forcedPassword)
	h.handle(mux, "GET /signin/enrol", midSignIn, h.enrolForm)
	h.handle(mux, "POST /signin/enrol", midSignIn, h.enrol)
	h.handle(mux, "GET /signin/mfa", midSignIn, h.mfaForm)
	h.handle(mux, "POST /signin/mfa", midSignIn, h.mfa)
	h.handle(mux, "POST /signout", public, h.signout)
	h.handle(mux, "GET /setup/{token}", public, h.setupForm)
	h.handle(mux, "POST /setup/{token}", public, h.setup)

	h.handle(mux, "GET /account", signedIn, h.account)
	h.handle(mux, "POST /account/password", signedIn, h.changePassword)
	h.handle(mux, "POST /account/tokens", signedIn, h.createToken)
	h.handle(mux, "POST /account/tokens/{id}/revoke", signedIn, h.revokeToken)
	h.handle(mux, "POST /account/recovery-codes", signedIn, h.regenerateCodes)

	h.handle(mux, "GET /sites", signedIn, h.manageSites)
	h.handle(mux, "GET /sites/{id}", signedIn, h.sitePage)
	h.handle(mux, "POST /sites/{id}", signedIn, h.siteUpdate)
	h.handle(mux, "POST /sites/{id}/authorisers", signedIn, h.appointAuthoriser)
	h.handle(mux, "POST /sites/{id}/authorisers/{user}/remove", signedIn, h.removeAuthoriser)

	h.handle(mux, "GET /admin", signedIn, h.adminIndex)
	h.handle(mux, "GET /admin/organisations", signedIn, h.orgList)
	h.handle(mux, "GET /admin/organisations/new", signedIn, h.orgNewForm)
	h.handle(mux, "POST /admin/organisations", signedIn, h.orgCreate)
	h.handle(mux, "GET /admin/organisations/{id}", signedIn, h.orgPage)
	h.handle(mux, "GET /admin/organisations/{id}/edit", signedIn, h.orgEditForm)
	h.handle(mux, "POST /admin/organisations/{id}", signedIn, h.orgUpdate)
	h.handle(mux, "POST /admin/organisations/{id}/sites", signedIn, h.siteCreate)
	h.handle(mux, "POST /admin/organisations/{id}/service-desk", signedIn, h.appointServiceDesk)
	h.handle(mux, "POST /admin/organisations/{id}/service-desk/{user}/remove", signedIn, h.removeServiceDesk)
	h.handle(mux, "GET /admin/users", signedIn, h.userList)
	h.handle(mux, "GET /admin/users/new", signedIn, h.userNewForm)
	h.handle(mux, "POST /admin/users", signedIn, h.userCreate)
	h.handle(mux, "GET /admin/users/{id}", signedIn, h.userPage)
	h.handle(mux, "POST /admin/users/{id}/roles", signedIn, h.userRoles)
	h.handle(mux, "POST /admin/users/{id}/status", signedIn, h.userStatus)
	h.handle(mux, "POST /admin/users/{id}/setup-link", signedIn, h.userSetupLink)
	h.handle(mux, "GET /admin/audit", signedIn, h.auditSearch)
	h.handle(mux, "GET /admin/audit/export.csv", signedIn, h.auditExport)
	h.registerOutbox(mux)
	h.registerOnboarding(mux)
	h.registerRequests(mux)
	h.registerTraining(mux)
	h.registerMembers(mux)
	h.registerRecord(mux)
	// Anything else is a page that does not exist.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, errs.E(errs.NotFound, "If you typed the web address, check it is correct. If you pasted it, check you copied the whole address."))
	})
	if h.demo != nil {
		h.handle(mux, "GET /admin/clock", signedIn, h.clockForm)
		h.handle(mux, "POST /admin/clock", signedIn, h.clockAdvance)
	}
}

func (h *Handler) handle(mux *http.ServeMux, pattern string, a access, fn http.HandlerFunc) {
	h.routes = append(h.routes, pattern)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := httpauth.From(r.Context())
		if !store.StorableValues(r.URL.Query()) {
			h.fail(w, r, errs.E(errs.Invalid, "The address contains characters that cannot be accepted"))
			return
		}
		if r.Method == http.MethodPost {
			if multipartForm(r) {
				// A file upload (bulk intake): a larger bound, refused with a
				// clear message before more than that is read.
				r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
				if err := r.ParseMultipartForm(maxUpload); err != nil {
					var tooBig *http.MaxBytesError
					if errors.As(err, &tooBig) {
						h.fail(w, r, member.IntakeTooLarge())
						return
					}
					h.fail(w, r, errs.E(errs.Invalid, "The uploaded form could not be read"))
					return
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				h.fail(w, r, errs.E(errs.Invalid, "The form could not be read"))
				return
			}
			if !store.StorableValues(r.PostForm) {
				h.fail(w, r, errs.E(errs.Invalid, "The form contains characters that cannot be accepted. Remove any control characters and try again."))
				return
			}
			if err := h.auth.CheckCSRF(r); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		switch a {
		case signedIn:
			if c.Principal == nil {
				if c.Session != nil {
					h.redirect(w, r, nextStep(c.Session.State), "")
					return
				}
				h.fail(w, r, errs.E(errs.Unauthenticated, "Sign in to continue"))
				return
			}
		case midSignIn:
			if c.Session == nil {
				h.redirect(w, r, "/signin", "Your sign-in has timed out. Sign in again.")
				return
			}
		}
		fn(w, r)
	})
}

// maxUpload bounds an uploaded form: a bulk intake file of at most
// member.MaxIntakeBytes and the form around it (1 MB is ample).
const maxUpload = member.MaxIntakeBytes + 1<<20

func multipartForm(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}

// nextStep is where a session in a sign-in state goes next.
func nextStep(state string) string {
	switch state {
	case auth.StatePassword:
		return "/signin/password"
	case auth.StateEnrol:
		return "/signin/enrol"
	case auth.StateMFA:
		return "/signin/mfa"
	}
	return "/"
}

func principal(r *http.Request) *authz.Principal { return httpauth.From(r.Context()).Principal }
