package api

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
)

// Prefix is the path under which every API route lives.
const Prefix = "/api/v1"

// maxBody bounds a request body. The API takes small JSON objects; anything
// larger is refused before it is read into memory.
const maxBody = 1 << 20

// Deps are the services the API uses.
type Deps struct {
	DB        *store.DB
	Users     *auth.Service
	Orgs      *org.Service
	Access    *accessreq.Service
	Audit     *audit.Log
	Auth      *httpauth.Authenticator
	Clock     clock.Clock
	DemoClock *clock.Offset // nil unless demo mode; enables /demo/clock
	Log       *slog.Logger
	Version   string // shown in the OpenAPI document
	BaseURL   string // public address for links sent to people; empty: the request's host

	Onboarding *onboarding.Service // partner onboarding, size bands, the suspension
	Outbox     *notify.Outbox      // says whether e-mail is delivered; nil: it is not
	Training   *training.Service   // training modules, assignment, progress and the gate
	Members    *member.Service     // invitations, members and bulk intake
	Record     *record.Service     // the record's credentials, clinical systems and reports; nil leaves them out
}

// Handler serves the JSON API.
type Handler struct {
	db      *store.DB
	users   *auth.Service
	orgs    *org.Service
	audit   *audit.Log
	auth    *httpauth.Authenticator
	clock   clock.Clock
	demo    *clock.Offset
	log     *slog.Logger
	version string
	baseURL string
	outbox  *notify.Outbox

	requests *accessreq.Service // access requests and record accounts

	onboarding *onboarding.Service // partner onboarding, size bands, the suspension

	training *training.Service // training modules, assignment, progress and the gate

	members *member.Service // invitations, members and bulk intake
	record  *record.Service // the record's credentials, clinical systems and reports

	routes  []Route
	probe   *http.ServeMux // the route patterns alone, to tell 404 from 405
	openapi []byte         // the OpenAPI document, generated once
}

// New returns the API handler with its route table and OpenAPI document.
func New(d Deps) *Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	h := &Handler{db: d.DB, users: d.Users, orgs: d.Orgs, requests: d.Access, audit: d.Audit, auth: d.Auth, clock: d.Clock,
		demo: d.DemoClock, log: d.Log, version: d.Version, baseURL: strings.TrimSuffix(d.BaseURL, "/"), probe: http.NewServeMux(),
		outbox: d.Outbox}
	h.onboarding = d.Onboarding
	h.training = d.Training
	h.members = d.Members
	h.record = d.Record
	h.routes = h.table()
	for _, rt := range h.routes {
		h.probe.Handle(rt.pattern(), http.NotFoundHandler())
	}
	doc, err := marshalDocument(h.document())
	if err != nil {
		// The document is built from static Go types; failing here is a
		// programming error that every test run would catch.
		panic("api: cannot encode the OpenAPI document: " + err.Error())
	}
	h.openapi = doc
	return h
}

// Routes returns the route table: every route Register adds, in order.
func (h *Handler) Routes() []Route {
	out := make([]Route, len(h.routes))
	copy(out, h.routes)
	return out
}

// Register adds the API routes to mux, plus a catch-all under /api/v1/ that
// answers unknown paths and wrong methods with problem+json rather than the
// mux's plain-text pages. The mux must be wrapped in Authenticator.Identify.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, rt := range h.routes {
		mux.Handle(rt.pattern(), h.wrap(rt))
	}
	mux.HandleFunc(Prefix+"/", h.unmatched)
}

// wrap applies what every route shares: request identification, the
// authentication requirement, CSRF for session callers, and the body rules.
func (h *Handler) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.prepare(w)
		c := httpauth.From(r.Context())
		if c.BadBearer() {
			// A presented but unusable token is refused outright, even on
			// public routes: silently treating it as anonymous would hide a
			// revoked or mistyped token from its owner.
			h.fail(w, r, errBadToken)
			return
		}
		if rt.access == signedIn && c.Principal == nil {
			h.fail(w, r, errSignIn)
			return
		}
		if !store.StorableValues(r.URL.Query()) {
			h.fail(w, r, errs.E(errs.Invalid, "The query string contains characters that cannot be accepted (NUL or invalid UTF-8)"))
			return
		}
		if changesState(r.Method) {
			limit := int64(maxBody)
			if rt.bodyLimit > 0 {
				limit = rt.bodyLimit
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if c.Principal != nil {
				// Session callers carry ambient credentials (the cookie), so
				// they must prove the request came from CareGate; token
				// callers are exempt inside CheckCSRF.
				if err := h.auth.CheckCSRF(r); err != nil {
					h.fail(w, r, err)
					return
				}
			}
			body, err := readBody(r, rt.tooLarge)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if len(bytes.TrimSpace(body)) > 0 {
				if err := checkContentType(w, r); err != nil {
					h.fail(w, r, err)
					return
				}
				if rt.Request == nil {
					// Routes without a body accept an empty object and refuse
					// anything else, so a misplaced field is never ignored.
					if err := decodeBytes(body, &struct{}{}); err != nil {
						h.fail(w, r, err)
						return
					}
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if err := rt.serve(w, r, c); err != nil {
			h.fail(w, r, err)
		}
	})
}

func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// prepare sets the headers every API response carries.
func (h *Handler) prepare(w http.ResponseWriter) {
	hd := w.Header()
	if hd.Get("X-Request-Id") == "" {
		// The application's middleware normally sets it; make sure every
		// problem can still be matched to its log line.
		hd.Set("X-Request-Id", ident.New()[:16])
	}
	// Responses hold personal data and one-time secrets: never cache them.
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
}

// unmatched answers paths under /api/v1/ that no route serves: 405 with an
// Allow header when the path exists for other methods, 404 otherwise.
func (h *Handler) unmatched(w http.ResponseWriter, r *http.Request) {
	h.prepare(w)
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := h.probe.Handler(probe); pat != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		h.writeProblem(w, r, http.StatusNotFound, "not_found", "There is no API endpoint at "+r.URL.Path+". See "+Prefix+"/openapi.json.", nil)
		return
	}
	if allow[0] == http.MethodGet {
		allow = slices.Insert(allow, 1, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	h.writeProblem(w, r, http.StatusMethodNotAllowed, "method_not_allowed",
		r.Method+" is not allowed here; use "+strings.Join(allow, ", "), nil)
}

var (
	errSignIn   = errs.E(errs.Unauthenticated, "Send an API token in the Authorization header (Bearer cgt_…), or sign in to the portal")
	errBadToken = errs.E(errs.Unauthenticated, "The API token is not valid, or has been revoked")
)
