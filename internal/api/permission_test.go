package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// access is one route's row of the permission matrix: who may call it, and
// how to build a request that succeeds for them. prep runs before every
// call (for every caller, allowed or not) and returns the path and body.
type access struct {
	allowed []string
	path    string // with fixture placeholders
	body    string // with fixture placeholders
	prep    func(t *testing.T, s *stack, c *caller) (path, body string)
}

var (
	everyone   = callerNames
	signedIn   = []string{member, siteAuthoriser, serviceDesk, backOffice, privacyOfficer, admin}
	adminOnly  = []string{admin}
	auditors   = []string{privacyOfficer, admin}
	orgReaders = []string{serviceDesk, backOffice, privacyOfficer, admin} // of organisation 1; the authoriser is of organisation 2
	orgLists   = []string{siteAuthoriser, serviceDesk, backOffice, privacyOfficer, admin}
)

// newAccount creates a plain account for a change to act on.
func newAccount(t *testing.T, s *stack) *auth.User {
	t.Helper()
	u, err := s.users.CreateUser(context.Background(), audit.System, auth.NewUser{
		Email: fmt.Sprintf("target%d@nhs.net", s.next()), GivenName: "Tia", FamilyName: "Target"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// matrix is the permission matrix, keyed by route pattern. Every route in
// Routes() must have a row; a row without a route fails too.
func matrix() map[string]access {
	return map[string]access{
		"GET /api/v1/me": {allowed: signedIn, path: "/api/v1/me"},

		"GET /api/v1/organisations":      {allowed: orgLists, path: "/api/v1/organisations"},
		"POST /api/v1/organisations":     {allowed: adminOnly, path: "/api/v1/organisations", body: `{"ods_code":"T{n}","name":"Trust {n}"}`},
		"GET /api/v1/organisations/{id}": {allowed: orgReaders, path: "/api/v1/organisations/{org1}"},
		"PATCH /api/v1/organisations/{id}": {allowed: adminOnly, path: "/api/v1/organisations/{org1}",
			body: `{"name":"Leeds Teaching Hospitals {n}"}`},

		"GET /api/v1/organisations/{id}/sites":  {allowed: orgReaders, path: "/api/v1/organisations/{org1}/sites"},
		"POST /api/v1/organisations/{id}/sites": {allowed: adminOnly, path: "/api/v1/organisations/{org1}/sites", body: `{"name":"Clinic {n}"}`},
		"GET /api/v1/sites/{id}":                {allowed: orgReaders, path: "/api/v1/sites/{siteA}"},
		"PATCH /api/v1/sites/{id}":              {allowed: adminOnly, path: "/api/v1/sites/{siteA}", body: `{"name":"Ward 1 ({n})"}`},

		"GET /api/v1/sites/{id}/authorisers": {allowed: orgReaders, path: "/api/v1/sites/{siteA}/authorisers"},
		"POST /api/v1/sites/{id}/authorisers": {allowed: adminOnly, path: "/api/v1/sites/{siteA}/authorisers",
			body: `{"email":"appointee{n}@nhs.net","given_name":"Ava","family_name":"Appointee"}`},
		"DELETE /api/v1/sites/{id}/authorisers/{user}": {allowed: adminOnly,
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				u := newAccount(t, s)
				if _, err := s.orgs.AppointAuthoriser(context.Background(), s.adminP, s.siteA.ID, org.Appointee{Email: u.Email}); err != nil {
					t.Fatal(err)
				}
				return "/api/v1/sites/" + s.siteA.ID + "/authorisers/" + u.ID, ""
			}},

		"GET /api/v1/organisations/{id}/service-desk": {allowed: orgReaders, path: "/api/v1/organisations/{org1}/service-desk"},
		"POST /api/v1/organisations/{id}/service-desk": {allowed: adminOnly, path: "/api/v1/organisations/{org1}/service-desk",
			body: `{"email":"desk{n}@nhs.net","given_name":"Dan","family_name":"Desk"}`},
		"DELETE /api/v1/organisations/{id}/service-desk/{user}": {allowed: adminOnly,
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				u := newAccount(t, s)
				if _, err := s.orgs.AppointServiceDesk(context.Background(), s.adminP, s.org1.ID, org.Appointee{Email: u.Email}); err != nil {
					t.Fatal(err)
				}
				return "/api/v1/organisations/" + s.org1.ID + "/service-desk/" + u.ID, ""
			}},

		"GET /api/v1/sites/{id}/members": {allowed: orgReaders, path: "/api/v1/sites/{siteA}/members"},

		"GET /api/v1/users":      {allowed: adminOnly, path: "/api/v1/users"},
		"POST /api/v1/users":     {allowed: adminOnly, path: "/api/v1/users", body: `{"email":"made{n}@nhs.net","given_name":"Mo","family_name":"Made"}`},
		"GET /api/v1/users/{id}": {allowed: adminOnly, path: "/api/v1/users/{memberID}"},
		"PUT /api/v1/users/{id}/roles": {allowed: adminOnly,
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				return "/api/v1/users/" + newAccount(t, s).ID + "/roles", `{"roles":["back_office"]}`
			}},
		"POST /api/v1/users/{id}/deactivate": {allowed: adminOnly,
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				return "/api/v1/users/" + newAccount(t, s).ID + "/deactivate", ""
			}},
		"POST /api/v1/users/{id}/activate": {allowed: adminOnly,
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				u := newAccount(t, s)
				if err := s.users.SetStatus(context.Background(), audit.System, u.ID, auth.StatusDeactivated); err != nil {
					t.Fatal(err)
				}
				return "/api/v1/users/" + u.ID + "/activate", ""
			}},

		"GET /api/v1/tokens":  {allowed: signedIn, path: "/api/v1/tokens"},
		"POST /api/v1/tokens": {allowed: signedIn, path: "/api/v1/tokens", body: `{"name":"script {n}"}`},
		"DELETE /api/v1/tokens/{id}": {allowed: signedIn,
			prep: func(t *testing.T, s *stack, c *caller) (string, string) {
				if c.user == nil {
					return "/api/v1/tokens/whatever", ""
				}
				_, tok, err := s.users.CreateToken(context.Background(), audit.System, c.user.ID, "to revoke")
				if err != nil {
					t.Fatal(err)
				}
				return "/api/v1/tokens/" + tok.ID, ""
			}},

		"GET /api/v1/audit-events":     {allowed: auditors, path: "/api/v1/audit-events?limit=5"},
		"GET /api/v1/audit-events.csv": {allowed: auditors, path: "/api/v1/audit-events.csv?action=organisation.create"},
		"GET /api/v1/openapi.json":     {allowed: everyone, path: "/api/v1/openapi.json"},
		"GET /api/v1/demo/clock":       {allowed: signedIn, path: "/api/v1/demo/clock"},
		"POST /api/v1/demo/clock":      {allowed: adminOnly, path: "/api/v1/demo/clock", body: `{"advance":"1s"}`},
	}
}

// TestPermissionMatrix calls every route as every kind of caller, with an API
// token and again with a portal session (sending the CSRF header), and checks
// who is refused (401 anonymous, 403 others) and who gets a 2xx answer. The
// one difference between the two: API tokens may not create API tokens.
func TestPermissionMatrix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{demo: true})
		m := matrix()
		addAccessRows(m)
		addOnboardingRows(m)
		addOutboxRows(m)
		addTrainingRows(m)
		addMemberRows(m)
		addRecordRows(m)
		for _, rt := range s.h.Routes() {
			if _, ok := m[rt.Method+" "+rt.Path]; !ok {
				t.Errorf("route %s %s has no row in the permission matrix", rt.Method, rt.Path)
			}
		}
		routes := map[string]bool{}
		for _, rt := range s.h.Routes() {
			routes[rt.Method+" "+rt.Path] = true
		}
		for pattern := range m {
			if !routes[pattern] {
				t.Errorf("permission matrix row %s has no route", pattern)
			}
		}
		for _, mode := range []authMode{tokenMode, sessionMode} {
			modeName := map[authMode]string{tokenMode: "token", sessionMode: "session"}[mode]
			for _, rt := range s.h.Routes() {
				pattern := rt.Method + " " + rt.Path
				row, ok := m[pattern]
				if !ok {
					continue
				}
				for _, name := range callerNames {
					c := s.as[name]
					path, body := s.expand(row.path), s.expand(row.body)
					if row.prep != nil {
						path, body = row.prep(t, s, c)
					}
					r := s.do(t, rt.Method, path, c, mode, body)
					allowed := slices.Contains(row.allowed, name)
					if mode == tokenMode && pattern == "POST /api/v1/tokens" && name != anonymous {
						allowed = false
					}
					want := "2xx"
					switch {
					case allowed && r.status >= 200 && r.status < 300:
						continue
					case !allowed && name == anonymous && r.status == 401:
						continue
					case !allowed && name != anonymous && r.status == 403:
						continue
					case !allowed && name == anonymous:
						want = "401"
					case !allowed:
						want = "403"
					}
					t.Errorf("%s as %s (%s): status %d, want %s; body %s", pattern, name, modeName, r.status, want, r.body)
				}
			}
		}
		if n, err := audit.Verify(context.Background(), db); err != nil {
			t.Errorf("audit trail after the matrix (%d events): %v", n, err)
		}
	})
}
