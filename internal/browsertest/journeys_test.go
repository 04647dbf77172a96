package browsertest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/httpauth"
)

// Selectors shared by the journeys.
const (
	navAdmin   = `.nhsuk-header__navigation-link[href="/admin"]`
	navSites   = `.nhsuk-header__navigation-link[href="/sites"]`
	navAccount = `.nhsuk-header__navigation-link[href="/account"]`
	signOutBtn = `form[action="/signout"] button[type="submit"]`
	submitBtn  = `main form[method="post"] button[type="submit"]`
)

// TestJourneys runs each journey on a server of its own (so journeys cannot
// disturb one another, and a security code is never replayed across them),
// in parallel, on every engine.
func TestJourneys(t *testing.T) {
	needBrowser(t)
	journeys := []struct {
		name string
		run  func(t *testing.T, srv *server)
	}{
		{"admin_manages_organisations", adminManagesOrganisations},
		{"new_account_set_up", newAccountSetUp},
		{"site_authoriser", siteAuthoriser},
		{"sign_out", signOut},
	}
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			for _, j := range journeys {
				t.Run(j.name, func(t *testing.T) {
					t.Parallel()
					j.run(t, startServer(t, e))
				})
			}
		})
	}
}

// signIn signs a demo account in from the sign-in page, reading the security
// code that demo mode shows, and checks the home page greets them.
func (b *tab) signIn(email string) {
	b.t.Helper()
	if b.path() != "/signin" {
		b.wantStatus(b.open("/signin"), http.StatusOK)
	}
	b.typeInto("#email", email)
	b.typeInto("#password", demo.Password)
	b.wantStatus(b.follow(submitBtn), http.StatusOK)
	b.wantPath("/signin/mfa")
	code := b.text("#demo-code")
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		b.fatalf("the demo security code is %q, want six digits", code)
	}
	b.typeInto("#code", code)
	b.wantStatus(b.follow(submitBtn), http.StatusOK)
	b.wantPath("/")
	if h1 := b.text("main h1"); !strings.HasPrefix(h1, "Welcome") {
		b.fatalf("after signing in the home page says %q, want a welcome", h1)
	}
}

// click clicks an element that does not lead to another page.
func (b *tab) click(sel string) {
	b.t.Helper()
	run(b, "click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// summary returns the rows of the page's summary list, key to value.
func (b *tab) summary() map[string]string {
	b.t.Helper()
	return eval[map[string]string](b, `Object.fromEntries(Array.from(document.querySelectorAll('.nhsuk-summary-list__row'),
		r => [r.querySelector('dt').textContent.trim(), r.querySelector('dd').textContent.replace(/\s+/g, ' ').trim()]))`)
}

// flash returns the success banner's text.
func (b *tab) flash() string {
	b.t.Helper()
	return b.text("#flash")
}

// wantErrorSummary checks the NHS error summary: shown, linking to each
// field, each link's target being a field marked as in error.
func (b *tab) wantErrorSummary(fields ...string) {
	b.t.Helper()
	if n := b.count("#error-summary"); n != 1 {
		b.fatalf("%d error summaries on %s, want 1", n, b.where())
	}
	if title := eval[string](b, `document.title`); !strings.HasPrefix(title, "Error: ") {
		b.errorf("the title of a page with errors is %q, want it to start with \"Error: \"", title)
	}
	links := eval[[]string](b, `Array.from(document.querySelectorAll('#error-summary a'), a => a.getAttribute('href'))`)
	for _, f := range fields {
		if !slices.Contains(links, "#"+f) {
			b.errorf("the error summary links to %v, want a link to #%s", links, f)
			continue
		}
		if b.count("#"+f) != 1 {
			b.errorf("the error summary links to #%s, but no field has that id", f)
			continue
		}
		if b.count("#"+f+"-error") != 1 {
			b.errorf("field #%s has no inline error message (#%s-error)", f, f)
		}
		if d := b.attr("#"+f, "aria-describedby"); !slices.Contains(strings.Fields(d), f+"-error") {
			b.errorf("field #%s is described by %q, want its error message %s-error", f, d, f)
		}
	}
}

// adminManagesOrganisations: the programme administrator signs in from the
// start page, adds a partner organisation and a site, and gets clear errors
// for a form filled in wrongly.
func adminManagesOrganisations(t *testing.T, srv *server) {
	b := openTab(t, srv, "admin")
	b.wantStatus(b.open("/"), http.StatusOK)
	if n, want := b.count("#demo-accounts tbody tr"), len(demo.Accounts()); n != want {
		b.errorf("the start page lists %d demo accounts, want %d", n, want)
	}
	b.wantStatus(b.follow(`main a.nhsuk-button[href="/signin"]`), http.StatusOK)
	b.wantPath("/signin")
	b.signIn("priya.shah@nhs.net")
	if h1 := b.text("main h1"); h1 != "Welcome, Priya Shah" {
		b.errorf("home page heading %q, want %q", h1, "Welcome, Priya Shah")
	}

	b.wantStatus(b.follow(navAdmin), http.StatusOK)
	b.wantPath("/admin")
	b.wantStatus(b.follow(`main a[href="/admin/organisations"]`), http.StatusOK)
	if names := b.texts("#organisations tbody tr td:first-child"); !slices.Contains(names, "Riverside Community Health") || len(names) != 4 {
		b.errorf("organisations listed: %q, want the 4 demo organisations", names)
	}

	// Add an organisation.
	b.wantStatus(b.follow(`main a[href="/admin/organisations/new"]`), http.StatusOK)
	b.wantPath("/admin/organisations/new")
	b.typeInto("#name", "Test Valley Hospice")
	b.typeInto("#ods_code", "RZZ1")
	b.fill("#allowed_domains", "nhs.net\ntestvalleyhospice.org.uk")
	b.fill("#routing", "service_desk")
	b.wantStatus(b.follow(submitBtn), http.StatusOK)
	orgPath := b.path()
	if !strings.HasPrefix(orgPath, "/admin/organisations/") || orgPath == "/admin/organisations/new" {
		b.fatalf("after adding an organisation the browser is on %s, want its page", b.where())
	}
	if h1 := b.text("main h1"); h1 != "Test Valley Hospice" {
		b.errorf("organisation page heading %q, want %q", h1, "Test Valley Hospice")
	}
	if f := b.flash(); !strings.Contains(f, "Test Valley Hospice has been added") {
		b.errorf("flash %q, want it to say the organisation was added", f)
	}
	s := b.summary()
	for k, want := range map[string]string{"ODS code": "RZZ1", "Allowed e-mail domains": "nhs.net, testvalleyhospice.org.uk",
		"Requests validated by": "IT service desk", "Status": "Active"} {
		if s[k] != want {
			b.errorf("organisation page shows %s %q, want %q", k, s[k], want)
		}
	}
	if n := b.count("#sites li"); n != 0 {
		b.errorf("a new organisation shows %d sites, want none", n)
	}

	// Add a site to it.
	b.typeInto("#site_name", "Day Hospice")
	b.wantStatus(b.follow(`form[action$="/sites"] button[type="submit"]`), http.StatusOK)
	b.wantPath(orgPath)
	if f := b.flash(); !strings.Contains(f, "Day Hospice has been added") {
		b.errorf("flash %q, want it to say the site was added", f)
	}
	if sites := b.texts("#sites li a"); !slices.Equal(sites, []string{"Day Hospice"}) {
		b.errorf("sites of the new organisation: %q, want [Day Hospice]", sites)
	}

	// The list shows it.
	b.wantStatus(b.follow(navAdmin), http.StatusOK)
	b.wantStatus(b.follow(`main a[href="/admin/organisations"]`), http.StatusOK)
	rows := eval[[][]string](b, `Array.from(document.querySelectorAll('#organisations tbody tr'), r => Array.from(r.cells, c => c.textContent.trim()))`)
	if !slices.ContainsFunc(rows, func(r []string) bool { return len(r) > 1 && r[0] == "Test Valley Hospice" && r[1] == "RZZ1" }) {
		b.errorf("organisation list %q does not show Test Valley Hospice RZZ1", rows)
	}

	// A form with mistakes: no name, a malformed ODS code.
	b.wantStatus(b.follow(`main a[href="/admin/organisations/new"]`), http.StatusOK)
	b.typeInto("#ods_code", "R!")
	b.fill("#allowed_domains", "nhs.net\ntestvalleyhospice.org.uk")
	b.fill("#routing", "service_desk")
	b.typeInto("#password_recipient", "manager@nhs.net")
	b.wantStatus(b.follow(submitBtn), http.StatusBadRequest)
	b.wantPath("/admin/organisations")
	b.wantErrorSummary("name", "ods_code")
	for sel, want := range map[string]string{"#name": "", "#ods_code": "R!", "#allowed_domains": "nhs.net\ntestvalleyhospice.org.uk",
		"#routing": "service_desk", "#password_recipient": "manager@nhs.net"} {
		if got := b.value(sel); got != want {
			b.errorf("after the error, %s holds %q, want what was typed: %q", sel, got, want)
		}
	}

	// The audit trail records the work.
	b.wantStatus(b.follow(navAdmin), http.StatusOK)
	b.wantStatus(b.follow(`main a[href="/admin/audit"]`), http.StatusOK)
	if actions := b.texts("#events tbody tr td.cg-code"); len(actions) == 0 {
		b.errorf("the audit trail shows no events")
	}
}

// newAccountSetUp: the administrator adds a back-office account and passes
// on its set-up link; the new person chooses a password, sets up an
// authenticator app, saves recovery codes and arrives home.
func newAccountSetUp(t *testing.T, srv *server) {
	admin := openTab(t, srv, "admin")
	admin.signIn("priya.shah@nhs.net")
	admin.wantStatus(admin.follow(navAdmin), http.StatusOK)
	admin.wantStatus(admin.follow(`main a[href="/admin/users"]`), http.StatusOK)
	if n, want := admin.count("#users tbody tr"), len(demo.Accounts()); n != want {
		admin.errorf("the accounts page lists %d accounts, want the %d demo accounts", n, want)
	}
	admin.wantStatus(admin.follow(`main a[href="/admin/users/new"]`), http.StatusOK)
	admin.typeInto("#email", "nadia.patel@nhs.net")
	admin.typeInto("#given_name", "Nadia")
	admin.typeInto("#family_name", "Patel")
	admin.click("#role-back_office")
	admin.wantStatus(admin.follow(submitBtn), http.StatusCreated)
	if h1 := admin.text("main h1"); h1 != "Nadia Patel" {
		admin.errorf("new account page heading %q, want Nadia Patel", h1)
	}
	if !eval[bool](admin, `document.querySelector('#role-back_office').checked`) {
		admin.errorf("the new account does not hold the back office role")
	}
	link := admin.text("#setup-link")
	if !strings.HasPrefix(link, srv.URL+"/setup/") {
		admin.fatalf("set-up link %q, want one under %s/setup/", link, srv.URL)
	}
	// The accounts list leads to the new account's page.
	admin.wantStatus(admin.follow(navAdmin), http.StatusOK)
	admin.wantStatus(admin.follow(`main a[href="/admin/users"]`), http.StatusOK)
	href := eval[string](admin, `Array.from(document.querySelectorAll('#users tbody a')).find(a => a.textContent.trim() === 'Nadia Patel')?.getAttribute('href') || ''`)
	if href == "" {
		admin.fatalf("the accounts list does not show Nadia Patel")
	}
	admin.wantStatus(admin.follow(`#users a[href="`+href+`"]`), http.StatusOK)
	if s := admin.summary(); s["E-mail"] != "nadia.patel@nhs.net" || s["Authenticator app"] != "Not set up yet" {
		admin.errorf("account page summary %q, want nadia.patel@nhs.net without an authenticator app", s)
	}
	if admin.count("#setup-link") != 0 {
		admin.errorf("the set-up link is shown again on the account page; it must be shown once")
	}
	admin.wantStatus(admin.follow(signOutBtn), http.StatusOK)
	admin.wantPath("/signin")

	// The new person, in a browser of their own.
	nu := openTab(t, srv, "new user")
	nu.wantStatus(nu.openURL(link), http.StatusOK)
	if h1 := nu.text("main h1"); h1 != "Set up your account" {
		nu.fatalf("set-up page heading %q", h1)
	}
	if email := nu.text("main p strong"); email != "nadia.patel@nhs.net" {
		nu.errorf("set-up page is for %q, want nadia.patel@nhs.net", email)
	}
	nu.typeInto("#password", "too-short")
	nu.typeInto("#password_confirm", "too-short")
	nu.wantStatus(nu.follow(submitBtn), http.StatusBadRequest)
	nu.wantErrorSummary("password")
	if msg := nu.text("#password-error"); !strings.Contains(msg, "12 characters") {
		nu.errorf("password error %q, want it to ask for 12 characters", msg)
	}
	const password = "Lantern orchard 47 pebbles"
	nu.typeInto("#password", password)
	nu.typeInto("#password_confirm", password)
	nu.wantStatus(nu.follow(submitBtn), http.StatusOK)
	nu.wantPath("/signin")
	if f := nu.flash(); !strings.Contains(f, "password is set") {
		nu.errorf("flash after setting the password %q", f)
	}

	// First sign-in: set up the authenticator app.
	nu.typeInto("#email", "nadia.patel@nhs.net")
	nu.typeInto("#password", password)
	nu.wantStatus(nu.follow(submitBtn), http.StatusOK)
	nu.wantPath("/signin/enrol")
	if src := nu.attr("#qr", "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		nu.errorf("QR code source %.40q…, want a PNG data: URL", src)
	}
	// The image must really display: the CSP has to allow data: images.
	if w := eval[int](nu, `document.querySelector('#qr').naturalWidth`); w == 0 {
		nu.errorf("the QR code image did not load")
	}
	secret := nu.text("#totp-secret")
	if !regexp.MustCompile(`^[A-Z2-7]{16,}=*$`).MatchString(secret) {
		nu.fatalf("authenticator key %q is not base32", secret)
	}
	nu.typeInto("#code", auth.TOTPCode(secret, time.Now()))
	nu.wantStatus(nu.follow(submitBtn), http.StatusOK)
	if h1 := nu.text("main h1"); h1 != "Save your recovery codes" {
		nu.fatalf("after enrolment the page says %q, want the recovery codes", h1)
	}
	codes := nu.texts("#recovery-codes li")
	if len(codes) != auth.RecoveryCodeCount {
		nu.errorf("%d recovery codes shown, want %d", len(codes), auth.RecoveryCodeCount)
	}
	for _, c := range codes {
		if !regexp.MustCompile(`^[A-Z0-9]{5}-[A-Z0-9]{5}$`).MatchString(c) {
			nu.errorf("recovery code %q is not like XXXXX-XXXXX", c)
		}
	}
	if u := slices.Compact(slices.Sorted(slices.Values(codes))); len(u) != len(codes) {
		nu.errorf("recovery codes repeat: %q", codes)
	}
	nu.wantStatus(nu.follow("#continue"), http.StatusOK)
	nu.wantPath("/")
	if h1 := nu.text("main h1"); h1 != "Welcome, Nadia Patel" {
		nu.errorf("home page heading %q, want Welcome, Nadia Patel", h1)
	}
	if nu.count(navAdmin) != 0 {
		nu.errorf("a back-office account is offered Administration")
	}
}

// siteAuthoriser: a site authoriser manages her own sites and nothing more.
func siteAuthoriser(t *testing.T, srv *server) {
	b := openTab(t, srv, "site authoriser")
	b.signIn("sarah.jones@nhs.net")
	want := []string{"Community Mental Health Team", "District Nursing North"}
	if got := slices.Sorted(slices.Values(b.texts("main ul a[href^='/sites/']"))); !slices.Equal(got, want) {
		b.errorf("home page lists the sites %q, want %q", got, want)
	}
	if b.count(navAdmin) != 0 {
		b.errorf("a site authoriser is offered Administration")
	}
	b.wantStatus(b.follow(navSites), http.StatusOK)
	b.wantPath("/sites")
	if h1 := b.text("main h1"); h1 != "Manage sites" {
		b.errorf("heading %q, want Manage sites", h1)
	}
	if got := slices.Sorted(slices.Values(b.texts("#sites li a"))); !slices.Equal(got, want) {
		b.errorf("Manage sites lists %q, want %q", got, want)
	}
	href := eval[string](b, `Array.from(document.querySelectorAll('#sites a')).find(a => a.textContent.trim() === 'District Nursing North')?.getAttribute('href') || ''`)
	if href == "" {
		b.fatalf("no link to District Nursing North")
	}
	b.wantStatus(b.follow(`#sites a[href="`+href+`"]`), http.StatusOK)
	if h1 := b.text("main h1"); h1 != "District Nursing North" {
		b.errorf("site page heading %q", h1)
	}
	if org := b.text("main .nhsuk-caption-l"); org != "Riverside Community Health" {
		b.errorf("site page names the organisation %q, want Riverside Community Health", org)
	}
	members := b.texts("#members tbody tr td:first-child")
	for _, name := range []string{"Amir Khan", "Sarah Jones"} {
		if !slices.ContainsFunc(members, func(m string) bool { return strings.HasPrefix(m, name) }) {
			b.errorf("members %q, want %s among them", members, name)
		}
	}
	if a := b.texts("#authorisers tbody tr td:first-child"); !slices.Equal(a, []string{"Sarah Jones"}) {
		b.errorf("site authorisers %q, want [Sarah Jones]", a)
	}
	if n := b.count(`form[action$="/authorisers"]`) + b.count(`form[action="`+href+`"]`); n != 0 {
		b.errorf("a site authoriser is offered administrators' forms on the site page")
	}

	for _, path := range []string{"/admin/organisations", "/admin"} {
		b.wantStatus(b.open(path), http.StatusForbidden)
		if h1 := b.text("main h1"); h1 != "You do not have permission to see this page" {
			b.errorf("%s shows %q, want the permission page", path, h1)
		}
	}
	b.wantStatus(b.open("/no-such-page"), http.StatusNotFound)
	if h1 := b.text("main h1"); h1 != "Page not found" {
		b.errorf("an unknown page shows %q, want Page not found", h1)
	}
}

// signOut: signing out ends the session on the server, not only in the
// browser.
func signOut(t *testing.T, srv *server) {
	b := openTab(t, srv, "back office")
	b.signIn("tom.baker@nhs.net")
	b.wantStatus(b.follow(navAccount), http.StatusOK)
	b.wantPath("/account")
	if s := b.summary(); s["E-mail"] != "tom.baker@nhs.net" {
		b.errorf("account page shows e-mail %q", s["E-mail"])
	}
	// Keep the session cookie, as someone who copied it would.
	var session string
	for _, c := range b.cookies() {
		if c.Name == httpauth.SessionCookie {
			session = c.Value
		}
	}
	if session == "" {
		b.fatalf("no %s cookie after signing in", httpauth.SessionCookie)
	}

	b.wantStatus(b.follow(signOutBtn), http.StatusOK)
	b.wantPath("/signin")
	if f := b.flash(); f != "You have signed out" {
		b.errorf("flash after signing out %q", f)
	}
	// The browser's Back button: the account page was sent with no-store,
	// so the browser asks again and is sent to sign in.
	run(b, "go back", chromedp.NavigateBack())
	b.check()
	b.wantPath("/signin")
	if b.count(navAccount) != 0 {
		b.errorf("after signing out and going back, the page still shows the signed-in menu")
	}
	b.wantStatus(b.open("/account"), http.StatusOK)
	b.wantPath("/signin")
	if next := b.value(`input[name="next"]`); next != "/account" {
		b.errorf("the sign-in page will return to %q, want /account", next)
	}

	// The browser forgot the cookie; the server must have ended the session
	// too, so putting the old cookie back gets nowhere.
	for _, c := range b.cookies() {
		if c.Name == httpauth.SessionCookie {
			b.errorf("the session cookie is still in the browser after signing out")
		}
	}
	if _, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{Name: httpauth.SessionCookie, Value: session,
		URL: srv.URL, Path: "/"}); err != nil {
		b.fatalf("restore the old session cookie: %v", err)
	}
	b.wantStatus(b.open("/account"), http.StatusOK)
	b.wantPath("/signin")
}

// cookies returns the browser's cookies for the server, HttpOnly ones too.
func (b *tab) cookies() []*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.srv.URL}})
	if err != nil {
		b.fatalf("read cookies: %v", err)
	}
	return res.Cookies
}
