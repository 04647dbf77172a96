package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// scenario is one request and what must come back. Paths and bodies may use
// the fixture placeholders of stack.expand.
type scenario struct {
	name   string
	method string
	path   string
	body   string
	as     string // caller name; "" is anonymous
	ctype  string // Content-Type to send instead of application/json; "-" for none
	status int
	want   map[string]any    // JSON expectations (see checkJSON)
	header map[string]string // response headers: exact value, or "*" for present
}

func runScenarios(t *testing.T, s *stack, scs []scenario) {
	t.Helper()
	for _, sc := range scs {
		path, body := s.expand(sc.path), s.expand(sc.body)
		h := http.Header{}
		switch sc.ctype {
		case "":
			if body != "" {
				h.Set("Content-Type", "application/json")
			}
		case "-":
		default:
			h.Set("Content-Type", sc.ctype)
		}
		r := s.doH(t, sc.method, path, s.as[sc.as], tokenMode, body, h)
		label := sc.name + ": " + sc.method + " " + sc.path
		if r.status != sc.status {
			t.Errorf("%s: status %d, want %d; body %s", label, r.status, sc.status, r.body)
			continue
		}
		if r.status >= 400 {
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s: error Content-Type %q, want application/problem+json", label, ct)
			}
			checkJSON(t, r, map[string]any{"status": r.status, "title": http.StatusText(r.status), "type": "about:blank", "code": present{}}, label)
		}
		want := map[string]any{}
		for k, v := range sc.want {
			if str, ok := v.(string); ok {
				v = s.expand(str)
			}
			want[k] = v
		}
		checkJSON(t, r, want, label)
		for k, v := range sc.header {
			v = s.expand(v)
			got := r.header.Get(k)
			if (v == "*" && got == "") || (v != "*" && got != v && !(strings.HasSuffix(v, "*") && strings.HasPrefix(got, strings.TrimSuffix(v, "*")))) {
				t.Errorf("%s: header %s = %q, want %q", label, k, got, v)
			}
		}
	}
}

// TestEndpoints drives every endpoint through its happy path and its main
// refusals, in order (later scenarios build on earlier ones).
func TestEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{demo: true})
		runScenarios(t, s, []scenario{
			// The caller.
			{name: "me as admin", method: "GET", path: "/api/v1/me", as: admin, status: 200,
				want: map[string]any{"id": "{adminID}", "email": "admin@nhs.net", "name": "Ada Tester", "roles": contains{"admin"},
					"global_roles": length{1}, "via_token": true, "csrf_token": absent{}, "authorised_sites": length{0}, "mfa_enabled": true},
				header: map[string]string{"Cache-Control": "no-store", "X-Request-Id": "*", "Content-Type": "application/json"}},
			{name: "me as authoriser", method: "GET", path: "/api/v1/me", as: siteAuthoriser, status: 200,
				want: map[string]any{"roles": contains{"site_authoriser"}, "authorised_sites": length{1}, "authorised_sites.0.name": "Reception"}},
			{name: "me as service desk", method: "GET", path: "/api/v1/me", as: serviceDesk, status: 200,
				want: map[string]any{"roles": contains{"service_desk"}, "service_desk_organisations.0.ods_code": "RR8"}},
			{name: "me as member", method: "GET", path: "/api/v1/me", as: member, status: 200,
				want: map[string]any{"roles": contains{"member"}, "member_of": length{1}, "global_roles": length{0}}},
			{name: "me anonymous", method: "GET", path: "/api/v1/me", status: 401,
				want: map[string]any{"code": "unauthenticated"}, header: map[string]string{"WWW-Authenticate": `Bearer realm="CareGate API"`}},

			// Organisations.
			{name: "list organisations", method: "GET", path: "/api/v1/organisations", as: admin, status: 200,
				want: map[string]any{"items": length{2}, "items.0.name": "Burley Park Medical Centre", "next_cursor": absent{}}},
			{name: "authoriser sees own organisation only", method: "GET", path: "/api/v1/organisations", as: siteAuthoriser, status: 200,
				want: map[string]any{"items": length{1}, "items.0.ods_code": "B86001"}},
			{name: "member may not list organisations", method: "GET", path: "/api/v1/organisations", as: member, status: 403,
				want: map[string]any{"code": "forbidden"}},
			{name: "create organisation", method: "POST", path: "/api/v1/organisations", as: admin,
				body:   `{"ods_code":"rxr01","name":"East Lancashire Hospitals","isa_level":"write","allowed_domains":["nhs.net","elht.nhs.uk"]}`,
				status: 201, want: map[string]any{"ods_code": "RXR01", "status": "active", "routing": "site_authoriser", "allowed_domains": length{2}, "id": present{}},
				header: map[string]string{"Location": "/api/v1/organisations/*"}},
			{name: "create organisation: duplicate ODS code", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RR8","name":"Twin"}`, status: 409, want: map[string]any{"code": "conflict", "errors.0.field": "ods_code"}},
			{name: "create organisation: field errors", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"bad!","name":"","status":"sleeping"}`, status: 400,
				want: map[string]any{"code": "invalid", "errors.0.field": "name", "errors.1.field": "ods_code", "errors.2.field": "status", "detail": "3 fields need correcting"}},
			{name: "create organisation: unknown field", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RXX1","name":"X","colour":"blue"}`, status: 400,
				want: map[string]any{"errors.0.field": "colour", "errors.0.message": "Unknown field", "detail": contains{`"colour"`}}},
			{name: "create organisation: wrong type", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RXX1","name":42}`, status: 400, want: map[string]any{"errors.0.field": "name", "errors.0.message": "Must be a string, not number"}},
			{name: "create organisation: malformed JSON", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RXX1",`, status: 400, want: map[string]any{"detail": contains{"not valid JSON"}}},
			{name: "create organisation: syntax error", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code" "RXX1"}`, status: 400, want: map[string]any{"detail": contains{"at byte"}}},
			{name: "create organisation: trailing data", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RXX1","name":"A"} {"name":"B"}`, status: 400, want: map[string]any{"detail": contains{"nothing after it"}}},
			{name: "create organisation: not an object", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `["RXX1"]`, status: 400, want: map[string]any{"detail": contains{"must be a JSON object"}}},
			{name: "create organisation: empty body", method: "POST", path: "/api/v1/organisations", as: admin,
				ctype: "-", status: 400, want: map[string]any{"detail": contains{"empty"}}},
			{name: "create organisation: form body", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `ods_code=RXX1&name=A`, ctype: "application/x-www-form-urlencoded", status: 415,
				want: map[string]any{"code": "unsupported_media_type"}, header: map[string]string{"Accept-Post": "application/json"}},
			{name: "create organisation: no content type", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RXX1","name":"A"}`, ctype: "-", status: 415},
			{name: "create organisation: JSON with charset", method: "POST", path: "/api/v1/organisations", as: admin,
				body: `{"ods_code":"RXX1","name":"Charset Trust"}`, ctype: "application/json; charset=utf-8", status: 201},
			{name: "create organisation: not an admin", method: "POST", path: "/api/v1/organisations", as: backOffice,
				body: `{"ods_code":"RXX2","name":"A"}`, status: 403},
			{name: "get organisation", method: "GET", path: "/api/v1/organisations/{org1}", as: serviceDesk, status: 200,
				want: map[string]any{"id": "{org1}", "ods_code": "RR8", "isa_level": "read_only", "created_at": present{}}},
			{name: "get organisation: unknown", method: "GET", path: "/api/v1/organisations/nope", as: admin, status: 404,
				want: map[string]any{"code": "not_found", "detail": "No such organisation"}},
			{name: "get organisation: authoriser of another", method: "GET", path: "/api/v1/organisations/{org1}", as: siteAuthoriser, status: 403},
			{name: "patch organisation: partial", method: "PATCH", path: "/api/v1/organisations/{org1}", as: admin,
				body: `{"isa_level":"write","routing":"service_desk"}`, status: 200,
				want: map[string]any{"isa_level": "write", "routing": "service_desk", "name": "Leeds Teaching Hospitals", "ods_code": "RR8"}},
			{name: "patch organisation: merge-patch type", method: "PATCH", path: "/api/v1/organisations/{org1}", as: admin,
				body: `{"password_recipient":"it.lead@nhs.net"}`, ctype: "application/merge-patch+json", status: 200,
				want: map[string]any{"password_recipient": "it.lead@nhs.net", "isa_level": "write"}},
			{name: "patch organisation: invalid", method: "PATCH", path: "/api/v1/organisations/{org1}", as: admin,
				body: `{"allowed_domains":["not a domain"]}`, status: 400, want: map[string]any{"errors.0.field": "allowed_domains"}},
			{name: "patch organisation: unknown", method: "PATCH", path: "/api/v1/organisations/nope", as: admin,
				body: `{"name":"X"}`, status: 404},
			{name: "patch organisation: wrong content type", method: "PATCH", path: "/api/v1/organisations/{org1}", as: admin,
				body: `{"name":"X"}`, ctype: "text/plain", status: 415, header: map[string]string{"Accept-Patch": "*"}},

			// Sites.
			{name: "list sites", method: "GET", path: "/api/v1/organisations/{org1}/sites", as: backOffice, status: 200,
				want: map[string]any{"items": length{1}, "items.0.id": "{siteA}", "items.0.organisation_id": "{org1}"}},
			{name: "create site", method: "POST", path: "/api/v1/organisations/{org1}/sites", as: admin, body: `{"name":"Ward 2"}`,
				status: 201, want: map[string]any{"name": "Ward 2", "status": "active", "organisation_id": "{org1}"},
				header: map[string]string{"Location": "/api/v1/sites/*"}},
			{name: "create site: duplicate name", method: "POST", path: "/api/v1/organisations/{org1}/sites", as: admin, body: `{"name":"Ward 2"}`,
				status: 409, want: map[string]any{"errors.0.field": "name"}},
			{name: "create site: no name", method: "POST", path: "/api/v1/organisations/{org1}/sites", as: admin, body: `{}`,
				status: 400, want: map[string]any{"errors.0.field": "name"}},
			{name: "create site: unknown organisation", method: "POST", path: "/api/v1/organisations/nope/sites", as: admin, body: `{"name":"X"}`,
				status: 404},
			{name: "get site", method: "GET", path: "/api/v1/sites/{siteA}", as: privacyOfficer, status: 200,
				want: map[string]any{"name": "Ward 1", "organisation_id": "{org1}"}},
			{name: "get site: own authoriser", method: "GET", path: "/api/v1/sites/{siteB}", as: siteAuthoriser, status: 200},
			{name: "get site: member", method: "GET", path: "/api/v1/sites/{siteA}", as: member, status: 403},
			{name: "patch site", method: "PATCH", path: "/api/v1/sites/{siteA}", as: admin, body: `{"name":"Ward 1 (Gledhow)"}`,
				status: 200, want: map[string]any{"name": "Ward 1 (Gledhow)", "status": "active"}},
			{name: "patch site: bad status", method: "PATCH", path: "/api/v1/sites/{siteA}", as: admin, body: `{"status":"gone"}`,
				status: 400, want: map[string]any{"errors.0.field": "status"}},
			{name: "site members", method: "GET", path: "/api/v1/sites/{siteA}/members", as: serviceDesk, status: 200,
				want: map[string]any{"items": length{1}, "items.0.user_id": "{memberID}", "items.0.job_title": "Staff nurse", "items.0.status": "active"}},

			// Site authorisers.
			{name: "list authorisers", method: "GET", path: "/api/v1/sites/{siteB}/authorisers", as: admin, status: 200,
				want: map[string]any{"items": length{1}, "items.0.email": "authoriser@nhs.net", "items.0.since": present{}}},
			{name: "appoint new authoriser", method: "POST", path: "/api/v1/sites/{siteA}/authorisers", as: admin,
				body: `{"email":"New.Person@NHS.net","given_name":"New","family_name":"Person"}`, status: 201,
				want:   map[string]any{"account_created": true, "setup_link": contains{"/setup/"}, "person.email": "new.person@nhs.net", "person.name": "New Person"},
				header: map[string]string{"Location": "/api/v1/sites/{siteA}/authorisers/*"}},
			{name: "appoint existing account", method: "POST", path: "/api/v1/sites/{siteA}/authorisers", as: admin,
				body: `{"email":"member@nhs.net"}`, status: 201,
				want: map[string]any{"account_created": false, "setup_link": absent{}, "person.user_id": "{memberID}"}},
			{name: "appoint twice", method: "POST", path: "/api/v1/sites/{siteA}/authorisers", as: admin,
				body: `{"email":"member@nhs.net"}`, status: 409, want: map[string]any{"errors.0.field": "email"}},
			{name: "appoint off-domain", method: "POST", path: "/api/v1/sites/{siteA}/authorisers", as: admin,
				body: `{"email":"someone@gmail.com","given_name":"A","family_name":"B"}`, status: 400,
				want: map[string]any{"errors.0.field": "email", "errors.0.message": contains{"allowed domains"}}},
			{name: "appoint: bad e-mail", method: "POST", path: "/api/v1/sites/{siteA}/authorisers", as: admin,
				body: `{"email":"nobody"}`, status: 400, want: map[string]any{"errors.0.field": "email"}},
			{name: "members mark authorisers", method: "GET", path: "/api/v1/sites/{siteA}/members", as: admin, status: 200,
				want: map[string]any{"items.0.site_authoriser": true}},
			{name: "remove authoriser", method: "DELETE", path: "/api/v1/sites/{siteA}/authorisers/{memberID}", as: admin, status: 204},
			{name: "remove authoriser again", method: "DELETE", path: "/api/v1/sites/{siteA}/authorisers/{memberID}", as: admin, status: 404},
			{name: "remove authoriser: body refused", method: "DELETE", path: "/api/v1/sites/{siteA}/authorisers/{memberID}", as: admin,
				body: `{"reason":"left"}`, status: 400, want: map[string]any{"errors.0.field": "reason"}},

			// Service desk.
			{name: "list service desk", method: "GET", path: "/api/v1/organisations/{org1}/service-desk", as: serviceDesk, status: 200,
				want: map[string]any{"items": length{1}, "items.0.user_id": "{deskID}"}},
			{name: "appoint service desk", method: "POST", path: "/api/v1/organisations/{org1}/service-desk", as: admin,
				body: `{"email":"backoffice@nhs.net"}`, status: 201, want: map[string]any{"person.user_id": "{boID}", "account_created": false},
				header: map[string]string{"Location": "/api/v1/organisations/{org1}/service-desk/{boID}"}},
			{name: "appoint service desk: unknown organisation", method: "POST", path: "/api/v1/organisations/nope/service-desk", as: admin,
				body: `{"email":"backoffice@nhs.net"}`, status: 404},
			{name: "remove service desk", method: "DELETE", path: "/api/v1/organisations/{org1}/service-desk/{boID}", as: admin, status: 204},
			{name: "remove service desk: not appointed", method: "DELETE", path: "/api/v1/organisations/{org1}/service-desk/{boID}", as: admin, status: 404},

			// Accounts.
			{name: "list users", method: "GET", path: "/api/v1/users", as: admin, status: 200, want: map[string]any{"items": atLeast{8}}},
			{name: "search users", method: "GET", path: "/api/v1/users?q=Spencer", as: admin, status: 200,
				want: map[string]any{"items": length{1}, "items.0.email": "spare@nhs.net"}},
			{name: "list users: bad limit", method: "GET", path: "/api/v1/users?limit=0", as: admin, status: 400,
				want: map[string]any{"errors.0.field": "limit"}},
			{name: "list users: back office refused", method: "GET", path: "/api/v1/users", as: backOffice, status: 403},
			{name: "create user", method: "POST", path: "/api/v1/users", as: admin,
				body: `{"email":"newbo@nhs.net","given_name":"Nia","family_name":"Okafor","roles":["back_office"]}`, status: 201,
				want: map[string]any{"user.email": "newbo@nhs.net", "user.roles": contains{"back_office"}, "user.status": "active",
					"setup_link": contains{"/setup/"}, "user.mfa_enabled": false},
				header: map[string]string{"Location": "/api/v1/users/*"}},
			{name: "create user: no roles", method: "POST", path: "/api/v1/users", as: admin,
				body: `{"email":"plain@nhs.net","given_name":"Pia","family_name":"Plain"}`, status: 201, want: map[string]any{"user.roles": length{0}}},
			{name: "create user: duplicate", method: "POST", path: "/api/v1/users", as: admin,
				body: `{"email":"newbo@nhs.net","given_name":"Nia","family_name":"Okafor"}`, status: 409, want: map[string]any{"errors.0.field": "email"}},
			{name: "create user: field errors", method: "POST", path: "/api/v1/users", as: admin,
				body: `{"email":"x","given_name":"","family_name":"<b>","roles":["wizard"]}`, status: 400,
				want: map[string]any{"errors": length{4}, "errors.0.field": "email", "errors.3.field": "roles"}},
			{name: "create user: password not taken", method: "POST", path: "/api/v1/users", as: admin,
				body: `{"email":"pw@nhs.net","given_name":"P","family_name":"W","password":"kettle-Orbit-97-lantern"}`, status: 400,
				want: map[string]any{"errors.0.field": "password", "errors.0.message": "Unknown field"}},
			{name: "get user", method: "GET", path: "/api/v1/users/{memberID}", as: admin, status: 200,
				want: map[string]any{"email": "member@nhs.net", "roles": length{0}, "given_name": "Mel"}},
			{name: "get user: unknown", method: "GET", path: "/api/v1/users/nope", as: admin, status: 404},
			{name: "set roles", method: "PUT", path: "/api/v1/users/{spareID}/roles", as: admin, body: `{"roles":["privacy_officer","back_office"]}`,
				status: 200, want: map[string]any{"roles": length{2}}},
			{name: "set roles: unknown role", method: "PUT", path: "/api/v1/users/{spareID}/roles", as: admin, body: `{"roles":["wizard"]}`,
				status: 400, want: map[string]any{"errors.0.field": "roles"}},
			{name: "set roles: missing list", method: "PUT", path: "/api/v1/users/{spareID}/roles", as: admin, body: `{}`,
				status: 400, want: map[string]any{"errors.0.field": "roles"}},
			{name: "set roles: last admin kept", method: "PUT", path: "/api/v1/users/{adminID}/roles", as: admin, body: `{"roles":[]}`,
				status: 409, want: map[string]any{"detail": contains{"last active administrator"}}},
			{name: "set roles: clear", method: "PUT", path: "/api/v1/users/{spareID}/roles", as: admin, body: `{"roles":[]}`,
				status: 200, want: map[string]any{"roles": length{0}}},
			{name: "set roles: not admin", method: "PUT", path: "/api/v1/users/{spareID}/roles", as: privacyOfficer, body: `{"roles":["admin"]}`,
				status: 403},
			{name: "deactivate", method: "POST", path: "/api/v1/users/{spareID}/deactivate", as: admin, status: 200,
				want: map[string]any{"status": "deactivated"}},
			{name: "deactivate: empty object body", method: "POST", path: "/api/v1/users/{spareID}/deactivate", as: admin, body: `{}`, status: 200},
			{name: "deactivate: last admin", method: "POST", path: "/api/v1/users/{adminID}/deactivate", as: admin, status: 409},
			{name: "activate", method: "POST", path: "/api/v1/users/{spareID}/activate", as: admin, status: 200,
				want: map[string]any{"status": "active"}},
			{name: "activate: unknown", method: "POST", path: "/api/v1/users/nope/activate", as: admin, status: 404},

			// Tokens.
			{name: "list tokens", method: "GET", path: "/api/v1/tokens", as: member, status: 200,
				want: map[string]any{"items": length{1}, "items.0.name": "test", "items.0.revoked_at": nil, "items.0.last_used_at": present{}}},
			{name: "create token with a token", method: "POST", path: "/api/v1/tokens", as: member, body: `{"name":"x"}`, status: 403,
				want: map[string]any{"detail": contains{"cannot create API tokens"}}},
			{name: "revoke another's token", method: "DELETE", path: "/api/v1/tokens/nope", as: member, status: 404},

			// Audit trail.
			{name: "audit search", method: "GET", path: "/api/v1/audit-events?action=organisation.create&limit=2", as: privacyOfficer, status: 200,
				want: map[string]any{"items": length{2}, "items.0.action": "organisation.create", "items.0.object_id": present{},
					"items.0.hash": present{}, "next_cursor": present{}}},
			{name: "audit search by prefix and date", method: "GET", path: "/api/v1/audit-events?action=site.&from=2000-01-01&to=2999-12-31", as: admin, status: 200,
				want: map[string]any{"items": atLeast{3}, "items.0.action": contains{"site."}}},
			{name: "audit search: bad parameters", method: "GET", path: "/api/v1/audit-events?from=yesterday&limit=5000&cursor=x&actor_id=y", as: admin, status: 400,
				want: map[string]any{"errors": length{4}, "errors.0.field": present{}}},
			{name: "audit search: to before from", method: "GET", path: "/api/v1/audit-events?from=2026-02-01&to=2026-01-01T00:00:00Z", as: admin, status: 400,
				want: map[string]any{"errors.0.field": "to"}},
			{name: "audit search: back office refused", method: "GET", path: "/api/v1/audit-events", as: backOffice, status: 403},
			{name: "audit export", method: "GET", path: "/api/v1/audit-events.csv?object_type=organisation", as: admin, status: 200,
				header: map[string]string{"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": "attachment; filename=\"caregate-audit-*"}},

			// Demo clock.
			{name: "read demo clock", method: "GET", path: "/api/v1/demo/clock", as: member, status: 200, want: map[string]any{"now": present{}}},
			{name: "advance demo clock", method: "POST", path: "/api/v1/demo/clock", as: admin, body: `{"advance":"2m"}`, status: 200,
				want: map[string]any{"now": present{}}},
			{name: "advance demo clock: days", method: "POST", path: "/api/v1/demo/clock", as: admin, body: `{"advance":"1d"}`, status: 200},
			{name: "advance demo clock: backwards", method: "POST", path: "/api/v1/demo/clock", as: admin, body: `{"advance":"-1h"}`, status: 400,
				want: map[string]any{"errors.0.field": "advance"}},
			{name: "advance demo clock: not admin", method: "POST", path: "/api/v1/demo/clock", as: backOffice, body: `{"advance":"1h"}`, status: 403},

			// The document, and what is not there.
			{name: "openapi", method: "GET", path: "/api/v1/openapi.json", status: 200, want: map[string]any{"openapi": "3.1.0", "info.version": "test"}},
			{name: "unknown path", method: "GET", path: "/api/v1/nothing/here", as: admin, status: 404, want: map[string]any{"code": "not_found"}},
			{name: "unknown path, anonymous", method: "GET", path: "/api/v1/", status: 404},
			{name: "wrong method", method: "DELETE", path: "/api/v1/me", as: admin, status: 405,
				want: map[string]any{"code": "method_not_allowed"}, header: map[string]string{"Allow": "GET, HEAD"}},
			{name: "wrong method with ids", method: "PUT", path: "/api/v1/organisations/{org1}", as: admin, body: `{}`, status: 405,
				header: map[string]string{"Allow": "GET, HEAD, PATCH"}},
			{name: "wrong method on a collection", method: "DELETE", path: "/api/v1/organisations", as: admin, status: 405,
				header: map[string]string{"Allow": "GET, HEAD, POST"}},
		})
	})
}
