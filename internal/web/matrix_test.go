package web_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// Who may use each portal route. "public" routes answer everyone (some with a
// redirect or "not found" for the made-up ids used here); "signed-in" ones
// anyone fully signed in; otherwise the roles listed. A route missing here
// fails the test, so every new page must declare who may use it.
var routeAccess = map[string][]string{
	"GET /{$}":                                    {"public"},
	"GET /signin":                                 {"public"},
	"GET /signin/password":                        {"public"},
	"GET /signin/enrol":                           {"public"},
	"GET /signin/mfa":                             {"public"},
	"GET /setup/{token}":                          {"public"},
	"POST /setup/{token}":                         {"public"},
	"GET /account":                                {"signed-in"},
	"POST /account/password":                      {"signed-in"},
	"POST /account/tokens":                        {"signed-in"},
	"POST /account/tokens/{id}/revoke":            {"signed-in"},
	"POST /account/recovery-codes":                {"signed-in"},
	"GET /sites":                                  {authz.Admin, authz.SiteAuthoriser},
	"GET /sites/{id}":                             {authz.Admin, authz.BackOffice, authz.PrivacyOfficer, authz.ServiceDesk, authz.SiteAuthoriser},
	"POST /sites/{id}":                            {authz.Admin},
	"POST /sites/{id}/authorisers":                {authz.Admin},
	"POST /sites/{id}/authorisers/{user}/remove":  {authz.Admin},
	"GET /admin":                                  {authz.Admin, authz.PrivacyOfficer},
	"GET /admin/organisations":                    {authz.Admin},
	"GET /admin/organisations/new":                {authz.Admin},
	"POST /admin/organisations":                   {authz.Admin},
	"GET /admin/organisations/{id}":               {authz.Admin},
	"GET /admin/organisations/{id}/edit":          {authz.Admin},
	"POST /admin/organisations/{id}":              {authz.Admin},
	"POST /admin/organisations/{id}/sites":        {authz.Admin},
	"POST /admin/organisations/{id}/service-desk": {authz.Admin},
	"POST /admin/organisations/{id}/service-desk/{user}/remove": {authz.Admin},
	"GET /admin/users":                  {authz.Admin},
	"GET /admin/users/new":              {authz.Admin},
	"POST /admin/users":                 {authz.Admin},
	"GET /admin/users/{id}":             {authz.Admin},
	"POST /admin/users/{id}/roles":      {authz.Admin},
	"POST /admin/users/{id}/status":     {authz.Admin},
	"POST /admin/users/{id}/setup-link": {authz.Admin},
	"GET /admin/audit":                  {authz.Admin, authz.PrivacyOfficer},
	"GET /admin/audit/export.csv":       {authz.Admin, authz.PrivacyOfficer},
	"GET /admin/outbox":                 {authz.Admin},
	"GET /admin/outbox/{id}":            {authz.Admin},
	// Access requests. The list is open to anyone signed in and shows only
	// what each may see. The form is for site authorisers and service desks.
	// The matrix uses a made-up request id, so a request's page and every
	// action on one answer 404 to everyone signed in (the service looks the
	// request up before it checks the role); who may act on a real request
	// is tested in TestRequestPermissions.
	"GET /requests":                {"signed-in"},
	"GET /requests/new":            {authz.SiteAuthoriser, authz.ServiceDesk},
	"POST /requests":               {authz.SiteAuthoriser, authz.ServiceDesk},
	"POST /requests/complete":      {authz.BackOffice},
	"GET /requests/{id}":           {"signed-in"},
	"POST /requests/{id}/validate": {"signed-in"},
	"POST /requests/{id}/assign":   {"signed-in"},
	"POST /requests/{id}/ask":      {"signed-in"},
	"POST /requests/{id}/answer":   {"signed-in"},
	"POST /requests/{id}/cancel":   {"signed-in"},
	"POST /requests/{id}/reject":   {"signed-in"},
	"POST /requests/{id}/complete": {"signed-in"},
	// Partner onboarding: applicants contact the programme team, so every
	// page is for programme administrators.
	"GET /admin/onboarding":                {authz.Admin},
	"GET /admin/onboarding/new":            {authz.Admin},
	"POST /admin/onboarding":               {authz.Admin},
	"GET /admin/onboarding/{id}":           {authz.Admin},
	"GET /admin/onboarding/{id}/edit":      {authz.Admin},
	"POST /admin/onboarding/{id}":          {authz.Admin},
	"POST /admin/onboarding/{id}/decision": {authz.Admin},
	"POST /admin/onboarding/{id}/go-live":  {authz.Admin},
	"GET /admin/size-bands":                {authz.Admin},
	"POST /admin/size-bands":               {authz.Admin},
	"GET /admin/suspension":                {authz.Admin},
	"POST /admin/suspension":               {authz.Admin},
	// Training: every signed-in person has their own training (the matrix's
	// made-up module id answers 404); the module editor, rules and report
	// are for programme administrators.
	"GET /training":                                  {"signed-in"},
	"GET /training/modules/{id}":                     {"signed-in"},
	"GET /training/modules/{id}/pages/{n}":           {"signed-in"},
	"POST /training/modules/{id}/pages/{n}/complete": {"signed-in"},
	"GET /training/modules/{id}/check":               {"signed-in"},
	"POST /training/modules/{id}/check":              {"signed-in"},
	"POST /training/modules/{id}/retake":             {"signed-in"},
	"GET /admin/training":                            {authz.Admin},
	"GET /admin/training/new":                        {authz.Admin},
	"POST /admin/training":                           {authz.Admin},
	"GET /admin/training/report":                     {authz.Admin},
	"GET /admin/training/report.csv":                 {authz.Admin},
	"GET /admin/training/{id}":                       {authz.Admin},
	"GET /admin/training/{id}/edit":                  {authz.Admin},
	"POST /admin/training/{id}/content":              {authz.Admin},
	"POST /admin/training/{id}/settings":             {authz.Admin},
	"GET /admin/training/{id}/preview":               {authz.Admin},
	"POST /admin/training/{id}/publish":              {authz.Admin},
	"POST /admin/training/{id}/discard":              {authz.Admin},
	"POST /admin/training/{id}/retire":               {authz.Admin},
	"POST /admin/training/{id}/rules":                {authz.Admin},
	"POST /admin/training/{id}/rules/{rule}/remove":  {authz.Admin},
	// The authoriser's portal: a site's authorisers manage it, programme
	// administrators may read it. The site in the path is checked first;
	// made-up invitation and membership ids then answer 404; who may act on
	// real ones is tested in TestAuthoriserPortal and in package member.
	"GET /sites/{id}/invitations/new":           {authz.SiteAuthoriser},
	"POST /sites/{id}/invitations":              {authz.SiteAuthoriser},
	"GET /sites/{id}/invitations":               {authz.Admin, authz.SiteAuthoriser},
	"GET /sites/{id}/invitations/{inv}/edit":    {authz.SiteAuthoriser},
	"POST /sites/{id}/invitations/{inv}":        {authz.SiteAuthoriser},
	"POST /sites/{id}/invitations/{inv}/resend": {authz.SiteAuthoriser},
	"POST /sites/{id}/invitations/{inv}/cancel": {authz.SiteAuthoriser},
	"GET /sites/{id}/memberships":               {authz.Admin, authz.SiteAuthoriser},
	"GET /sites/{id}/members/{mid}":             {authz.Admin, authz.SiteAuthoriser},
	"POST /sites/{id}/members/{mid}":            {authz.SiteAuthoriser},
	"POST /sites/{id}/members/{mid}/deactivate": {authz.SiteAuthoriser},
	"POST /sites/{id}/members/{mid}/remove":     {authz.SiteAuthoriser},
	"POST /sites/{id}/members/{mid}/reactivate": {authz.SiteAuthoriser},
	"GET /sites/{id}/intake":                    {authz.SiteAuthoriser},
	"GET /sites/{id}/intake/template.csv":       {authz.Admin, authz.SiteAuthoriser},
	"POST /sites/{id}/intake":                   {authz.SiteAuthoriser},
	"POST /sites/{id}/intake/{intake}/confirm":  {authz.SiteAuthoriser},
	// Anyone holding an invitation link; a made-up one gets a clear page.
	"GET /invitations/{token}":  {"public"},
	"POST /invitations/{token}": {"public"},
	// The record: nobody in this region has a record account, so every
	// record page refuses everyone (the gate and role filter are tested in
	// record_test.go); anyone may list their own data-problem reports.
	"GET /record":                          {},
	"POST /record/search":                  {},
	"GET /record/patients/{nhs}":           {},
	"GET /record/patients/{nhs}/{section}": {},
	"GET /record/items/{id}/report":        {},
	"POST /record/items/{id}/report":       {},
	"GET /record/reports":                  {"signed-in"},
	"POST /record/reports/{id}/close":      {authz.Admin},
}

// Sign-in and sign-out change the visitor's own state; their scenarios test them.
// A launch is proved by its signed token, not a session; its scenarios test it.
var notInMatrix = []string{"POST /signin", "POST /signin/password", "POST /signin/enrol", "POST /signin/mfa", "POST /signout", "POST /launch"}

// region builds two organisations, each with a site, and one person in each
// portal role: the site authoriser and the member belong to site 1, the
// service desk to organisation 1.
type region struct {
	org1, org2      *org.Organisation
	site1, site2    *org.Site
	people          map[string]*auth.User
	otherAuthoriser *auth.User
}

func (e *env) region() *region {
	e.t.Helper()
	ctx := context.Background()
	p, err := authz.Load(ctx, e.app.DB, e.admin)
	if err != nil {
		e.t.Fatal(err)
	}
	mk := func(ods, name, routing string) *org.Organisation {
		d := []string{"nhs.net"}
		o, err := e.app.Orgs.CreateOrganisation(ctx, p, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing, AllowedDomains: &d})
		if err != nil {
			e.t.Fatal(err)
		}
		return o
	}
	site := func(o *org.Organisation, name string) *org.Site {
		s, err := e.app.Orgs.CreateSite(ctx, p, o.ID, org.SiteInput{Name: &name})
		if err != nil {
			e.t.Fatal(err)
		}
		return s
	}
	r := &region{people: map[string]*auth.User{authz.Admin: e.admin}}
	r.org1, r.org2 = mk("RX1", "First Trust", org.RoutingServiceDesk), mk("RX2", "Second Trust", org.RoutingSiteAuthoriser)
	r.site1, r.site2 = site(r.org1, "Ward 1"), site(r.org2, "Clinic 2")
	r.people[authz.BackOffice] = e.user("backoffice@nhs.net", auth.RoleBackOffice)
	r.people[authz.PrivacyOfficer] = e.user("privacy@nhs.net", auth.RolePrivacyOfficer)
	r.people[authz.SiteAuthoriser] = e.user("authoriser@nhs.net")
	r.people[authz.ServiceDesk] = e.user("desk@nhs.net")
	r.people[authz.Member] = e.user("member@nhs.net")
	r.otherAuthoriser = e.user("other.authoriser@nhs.net")
	for _, a := range []struct {
		site string
		u    *auth.User
	}{{r.site1.ID, r.people[authz.SiteAuthoriser]}, {r.site2.ID, r.otherAuthoriser}} {
		if _, err := e.app.Orgs.AppointAuthoriser(ctx, p, a.site, org.Appointee{Email: a.u.Email}); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.app.Orgs.AppointServiceDesk(ctx, p, r.org1.ID, org.Appointee{Email: "desk@nhs.net"}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
		return e.app.Orgs.AddMemberTx(ctx, tx, audit.System, "m1", r.site1.ID, r.people[authz.Member].ID, "Nurse", "Nursing and midwifery")
	}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// concrete fills a route pattern with ids from the region.
func (r *region) concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	repl := strings.NewReplacer("{$}", "", "{token}", "not-a-real-token", "{user}", "nobody")
	path = repl.Replace(path)
	switch {
	case strings.HasPrefix(path, "/sites/{id}"):
		path = strings.Replace(path, "{id}", r.site1.ID, 1)
	case strings.HasPrefix(path, "/admin/organisations/{id}"):
		path = strings.Replace(path, "{id}", r.org1.ID, 1)
	case strings.HasPrefix(path, "/admin/users/{id}"):
		path = strings.Replace(path, "{id}", r.people[authz.Member].ID, 1)
	default:
		path = strings.Replace(path, "{id}", "not-a-real-id", 1)
	}
	return method, path
}

func TestPermissionMatrix(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		roles := []string{authz.Anonymous, authz.Member, authz.SiteAuthoriser, authz.ServiceDesk, authz.BackOffice, authz.PrivacyOfficer, authz.Admin}
		browsers := map[string]*browser{}
		for _, role := range roles {
			b := e.browser()
			if role != authz.Anonymous {
				b.signIn(r.people[role].Email)
			}
			browsers[role] = b
		}
		for _, pattern := range e.app.Web.Routes() {
			if slices.Contains(notInMatrix, pattern) {
				continue
			}
			allowed, ok := routeAccess[pattern]
			if !ok {
				t.Errorf("route %q has no entry in routeAccess: say who may use it", pattern)
				continue
			}
			method, path := r.concrete(pattern)
			for _, role := range roles {
				b := browsers[role]
				var p *page
				if method == http.MethodGet {
					p = b.get(path)
				} else {
					p = b.post(path, nil)
				}
				may := slices.Contains(allowed, "public") || (role != authz.Anonymous && (slices.Contains(allowed, "signed-in") || slices.Contains(allowed, role)))
				refused := p.status == http.StatusForbidden || p.status == http.StatusUnauthorized ||
					(p.status == http.StatusSeeOther && strings.HasPrefix(p.location(), "/signin?"))
				switch {
				case may && refused:
					t.Errorf("%s %s as %s: refused (%d %s), want allowed", method, path, role, p.status, p.location())
				case !may && !refused:
					t.Errorf("%s %s as %s: status %d, want refused", method, path, role, p.status)
				case !may && role != authz.Anonymous && p.status != http.StatusForbidden:
					t.Errorf("%s %s as %s: status %d, want 403", method, path, role, p.status)
				case p.status >= 500:
					t.Errorf("%s %s as %s: server error %d", method, path, role, p.status)
				}
			}
		}
		// An authoriser of another site may not see or manage site 1.
		other := e.browser()
		other.signIn(r.otherAuthoriser.Email)
		if p := other.get("/sites/" + r.site1.ID); p.status != http.StatusForbidden {
			t.Errorf("authoriser of another site sees site 1: %d", p.status)
		}
		if p := other.get("/sites/" + r.site2.ID); p.status != http.StatusOK {
			t.Errorf("authoriser of site 2 cannot see it: %d", p.status)
		}
	})
}
