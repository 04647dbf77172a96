package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
)

// Route is one entry of the route table: what Register serves and what the
// OpenAPI document describes.
type Route struct {
	Method  string // HTTP method
	Path    string // full path pattern, e.g. "/api/v1/sites/{id}"
	Summary string // one line for the OpenAPI document
	// Roles says who may call the route: "public", "signed in" (anyone with
	// an account) or the portal roles allowed, with their scope. The domain
	// services enforce it; this text documents it.
	Roles    string
	Status   int     // status of a successful response
	Request  any     // a value of the request body type; nil when there is none
	Response any     // a value of the response type; nil for 204 or non-JSON
	Query    []Param // query parameters
	Produces string  // response media type when not JSON (the CSV export)

	access       access
	bodyOptional bool  // the request body may be left out
	bodyLimit    int64 // a larger bound on the body than maxBody (file uploads)
	// tooLarge, if set, is the refusal of a body over bodyLimit: for a
	// file upload, the limit the caller must keep to is the file's.
	tooLarge error
	serve    handlerFunc
}

// Param describes a query parameter.
type Param struct {
	Name        string
	Description string
	Format      string // JSON Schema format of the string ("date-time", "int64"…), if any
}

type access int

// The zero value requires a signed-in principal, so that a route is never
// public by omission.
const (
	signedIn access = iota // a signed-in principal; roles are checked further in
	public                 // anyone, even anonymous
)

// handlerFunc serves one route; a returned error becomes a problem response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error

func (rt Route) pattern() string { return rt.Method + " " + rt.Path }

// Who may call what, as documented in the route table.
const (
	rolesPublic   = "public"
	rolesSignedIn = "signed in (any account)"
	rolesAdmin    = "admin"
	rolesOrgRead  = "admin, back_office, privacy_officer; service_desk of the organisation; site_authoriser of one of its sites"
	rolesSiteRead = "admin, back_office, privacy_officer; service_desk of the site's organisation; site_authoriser of the site"
	rolesAudit    = "admin, privacy_officer"
)

// table builds the route table. Order is the order of the OpenAPI document.
func (h *Handler) table() []Route {
	orgBody, siteBody := org.OrganisationInput{}, org.SiteInput{}
	rs := []Route{
		{Method: "GET", Path: "/me", Summary: "The caller: account, roles, sites authorised, service desks", Roles: rolesSignedIn,
			Response: me{}, serve: h.getMe},

		{Method: "GET", Path: "/organisations", Summary: "List the organisations the caller may see", Roles: rolesOrgRead,
			Response: listOf[org.Organisation]{}, serve: h.listOrganisations},
		{Method: "POST", Path: "/organisations", Summary: "Add a partner organisation", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: orgBody, Response: org.Organisation{}, serve: h.createOrganisation},
		{Method: "GET", Path: "/organisations/{id}", Summary: "Get an organisation", Roles: rolesOrgRead,
			Response: org.Organisation{}, serve: h.getOrganisation},
		{Method: "PATCH", Path: "/organisations/{id}", Summary: "Change an organisation (fields left out are unchanged)", Roles: rolesAdmin,
			Request: orgBody, Response: org.Organisation{}, serve: h.updateOrganisation},

		{Method: "GET", Path: "/organisations/{id}/sites", Summary: "List an organisation's sites", Roles: rolesOrgRead,
			Response: listOf[org.Site]{}, serve: h.listSites},
		{Method: "POST", Path: "/organisations/{id}/sites", Summary: "Add a site to an organisation", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: siteBody, Response: org.Site{}, serve: h.createSite},
		{Method: "GET", Path: "/sites/{id}", Summary: "Get a site", Roles: rolesSiteRead,
			Response: org.Site{}, serve: h.getSite},
		{Method: "PATCH", Path: "/sites/{id}", Summary: "Rename, close or reopen a site", Roles: rolesAdmin,
			Request: siteBody, Response: org.Site{}, serve: h.updateSite},

		{Method: "GET", Path: "/sites/{id}/authorisers", Summary: "List a site's authorisers", Roles: rolesSiteRead,
			Response: listOf[org.Person]{}, serve: h.listAuthorisers},
		{Method: "POST", Path: "/sites/{id}/authorisers", Summary: "Appoint a site authoriser (creating their account if needed)", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: org.Appointee{}, Response: appointment{}, serve: h.appointAuthoriser},
		{Method: "DELETE", Path: "/sites/{id}/authorisers/{user}", Summary: "End a site authoriser appointment", Roles: rolesAdmin,
			Status: http.StatusNoContent, serve: h.removeAuthoriser},

		{Method: "GET", Path: "/organisations/{id}/service-desk", Summary: "List an organisation's service-desk staff", Roles: rolesOrgRead,
			Response: listOf[org.Person]{}, serve: h.listServiceDesk},
		{Method: "POST", Path: "/organisations/{id}/service-desk", Summary: "Put someone on the service desk (creating their account if needed)", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: org.Appointee{}, Response: appointment{}, serve: h.appointServiceDesk},
		{Method: "DELETE", Path: "/organisations/{id}/service-desk/{user}", Summary: "Take someone off the service desk", Roles: rolesAdmin,
			Status: http.StatusNoContent, serve: h.removeServiceDesk},

		{Method: "GET", Path: "/sites/{id}/members", Summary: "List a site's current members", Roles: rolesSiteRead,
			Response: listOf[org.Person]{}, serve: h.listMembers},

		{Method: "GET", Path: "/users", Summary: "List or search accounts", Roles: rolesAdmin,
			Query: []Param{{Name: "q", Description: "Part of an e-mail address or name"},
				{Name: "limit", Description: "At most this many (1–500, default 200)", Format: "int32"}},
			Response: listOf[auth.User]{}, serve: h.listUsers},
		{Method: "POST", Path: "/users", Summary: "Create an account with region-wide roles; returns its one-time set-up link", Roles: rolesAdmin,
			Status: http.StatusCreated, Request: newUser{}, Response: createdUser{}, serve: h.createUser},
		{Method: "GET", Path: "/users/{id}", Summary: "Get an account", Roles: rolesAdmin,
			Response: auth.User{}, serve: h.getUser},
		{Method: "PUT", Path: "/users/{id}/roles", Summary: "Replace an account's region-wide roles", Roles: rolesAdmin,
			Request: roleList{}, Response: auth.User{}, serve: h.setRoles},
		{Method: "POST", Path: "/users/{id}/deactivate", Summary: "Deactivate an account, ending its sessions and tokens", Roles: rolesAdmin,
			Response: auth.User{}, serve: h.deactivateUser},
		{Method: "POST", Path: "/users/{id}/activate", Summary: "Reactivate an account", Roles: rolesAdmin,
			Response: auth.User{}, serve: h.activateUser},

		{Method: "GET", Path: "/tokens", Summary: "List the caller's API tokens", Roles: rolesSignedIn,
			Response: listOf[auth.APIToken]{}, serve: h.listTokens},
		{Method: "POST", Path: "/tokens", Summary: "Create an API token for the caller; the secret is shown once (not with a token)", Roles: rolesSignedIn + ", signed in to the portal",
			Status: http.StatusCreated, Request: tokenRequest{}, bodyOptional: true, Response: createdToken{}, serve: h.createToken},
		{Method: "DELETE", Path: "/tokens/{id}", Summary: "Revoke one of the caller's API tokens", Roles: rolesSignedIn,
			Status: http.StatusNoContent, serve: h.revokeToken},

		{Method: "GET", Path: "/audit-events", Summary: "Search the audit trail, newest first (the search is itself audited)", Roles: rolesAudit,
			Query: auditParams(true), Response: listOf[audit.Event]{}, serve: h.searchAudit},
		{Method: "GET", Path: "/audit-events.csv", Summary: "Export matching audit events as CSV (the export is itself audited)", Roles: rolesAudit,
			Query: auditParams(false), Produces: "text/csv", serve: h.exportAudit},

		{Method: "GET", Path: "/openapi.json", Summary: "This API's OpenAPI 3.1 document", Roles: rolesPublic,
			access: public, serve: h.getOpenAPI},
	}
	rs = append(rs, h.accessRoutes()...)
	rs = append(rs, h.onboardingRoutes()...)
	rs = append(rs, h.outboxRoutes()...)
	rs = append(rs, h.trainingRoutes()...)
	rs = append(rs, h.memberRoutes()...)
	rs = append(rs, h.recordRoutes()...)
	if h.demo != nil {
		rs = append(rs,
			Route{Method: "GET", Path: "/demo/clock", Summary: "The demo clock's current time (demo mode only)", Roles: rolesSignedIn,
				Response: clockState{}, serve: h.getClock},
			Route{Method: "POST", Path: "/demo/clock", Summary: "Move the demo clock forward (demo mode only; audited)", Roles: rolesAdmin,
				Request: clockAdvance{}, Response: clockState{}, serve: h.advanceClock},
		)
	}
	for i := range rs {
		rs[i].Path = Prefix + rs[i].Path
		if rs[i].Status == 0 {
			rs[i].Status = http.StatusOK
		}
	}
	return rs
}
