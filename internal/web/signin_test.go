package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
)

func events(t *testing.T, e *env, f audit.Filter) []audit.Event {
	t.Helper()
	evs, _, err := audit.Search(context.Background(), e.app.DB, f)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSignInFailuresAreAlikeAndAudited(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		wrong := b.post("/signin", url.Values{"email": {"admin@nhs.net"}, "password": {"not the password at all"}})
		unknown := b.post("/signin", url.Values{"email": {"nobody@nhs.net"}, "password": {"not the password at all"}})
		for _, p := range []*page{wrong, unknown} {
			if p.status != http.StatusUnauthorized || !p.has("#error-summary") {
				t.Fatalf("failed sign-in: status %d, error summary %v", p.status, p.has("#error-summary"))
			}
			if v, _ := p.doc.Find("input[name=email]").Attr("value"); v == "" {
				t.Error("the e-mail typed was not kept")
			}
			if p.doc.Find(`input[name=password][value]`).Length() > 0 {
				t.Error("the password was echoed back")
			}
		}
		if wrong.text("#error-summary p") != unknown.text("#error-summary p") {
			t.Errorf("wrong password and unknown account differ: %q vs %q", wrong.text("#error-summary p"), unknown.text("#error-summary p"))
		}
		evs := events(t, e, audit.Filter{Action: "auth.signin"})
		failures := 0
		for _, ev := range evs {
			if ev.Outcome == audit.Failure {
				failures++
			}
		}
		if failures != 2 {
			t.Errorf("%d failed sign-ins audited, want 2", failures)
		}
	})
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		for range 5 {
			b.post("/signin", url.Values{"email": {"admin@nhs.net"}, "password": {"wrong password again"}})
		}
		p := b.post("/signin", url.Values{"email": {"admin@nhs.net"}, "password": {password}})
		if p.status != http.StatusTooManyRequests {
			t.Fatalf("right password while locked: status %d, want 429", p.status)
		}
		if len(events(t, e, audit.Filter{Action: "auth.lockout"})) != 1 {
			t.Error("lock-out not audited")
		}
		e.clock.Advance(16 * time.Minute)
		b.signIn("admin@nhs.net")
	})
}

func TestCSRFRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn("admin@nhs.net")
		form := url.Values{"name": {"script"}}
		if p := b.postRaw("/account/tokens", form, e.srv.URL); p.status != http.StatusForbidden {
			t.Errorf("no token: %d, want 403", p.status)
		}
		form.Set("csrf_token", b.csrf())
		if p := b.postRaw("/account/tokens", form, "https://evil.example"); p.status != http.StatusForbidden {
			t.Errorf("cross-origin post: %d, want 403", p.status)
		}
		other := e.browser()
		e.user("other@nhs.net")
		other.signIn("other@nhs.net")
		stolen := url.Values{"name": {"script"}, "csrf_token": {other.csrf()}}
		if p := b.postRaw("/account/tokens", stolen, e.srv.URL); p.status != http.StatusForbidden {
			t.Errorf("another session's token: %d, want 403", p.status)
		}
		if p := b.postRaw("/account/tokens", form, e.srv.URL); p.status != http.StatusOK || p.text("#new-token") == "" {
			t.Errorf("valid post: %d, token shown %q", p.status, p.text("#new-token"))
		}
	})
}

func TestSessionTimeoutsAndDeactivation(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn("admin@nhs.net")
		e.clock.Advance(29 * time.Minute)
		if p := b.get("/account"); p.status != http.StatusOK {
			t.Fatalf("after 29 idle minutes: %d", p.status)
		}
		e.clock.Advance(31 * time.Minute)
		if p := b.get("/account"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/signin") {
			t.Fatalf("after 31 idle minutes: %d %s, want a redirect to sign in", p.status, p.location())
		}

		b.signIn("admin@nhs.net")
		for range 36 { // active every 20 minutes for 12 hours
			e.clock.Advance(20 * time.Minute)
			b.get("/account")
		}
		if p := b.get("/account"); p.status != http.StatusSeeOther {
			t.Fatalf("after 12 hours: %d, want the session ended", p.status)
		}

		e.clock.Advance(time.Minute)
		admin := e.browser()
		admin.signIn("admin@nhs.net")
		member := e.user("member@nhs.net")
		m := e.browser()
		m.signIn("member@nhs.net")
		if p := admin.post("/admin/users/"+member.ID+"/status", url.Values{"status": {auth.StatusDeactivated}}); p.status != http.StatusSeeOther {
			t.Fatalf("deactivate: %d", p.status)
		}
		if p := m.get("/account"); p.status != http.StatusSeeOther {
			t.Fatalf("deactivated member still signed in: %d", p.status)
		}
		if p := m.post("/signin", url.Values{"email": {"member@nhs.net"}, "password": {password}}); p.status == http.StatusSeeOther {
			t.Fatal("deactivated member can sign in again")
		}
	})
}

func TestNewAccountSetupEnrolmentAndRecoveryCodes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		admin := e.browser()
		admin.signIn("admin@nhs.net")
		p := admin.post("/admin/users", url.Values{"email": {"New.Person@NHS.net"}, "given_name": {"New"}, "family_name": {"Person"}, "roles": {"back_office"}})
		if p.status != http.StatusCreated {
			t.Fatalf("create account: %d %s", p.status, p.text("#error-summary"))
		}
		link := p.text("#setup-link")
		u, err := url.Parse(link)
		if err != nil || !strings.HasPrefix(u.Path, "/setup/") {
			t.Fatalf("set-up link %q", link)
		}
		if again := admin.post("/admin/users", url.Values{"email": {"new.person@nhs.net"}, "given_name": {"X"}, "family_name": {"Y"}}); again.status != http.StatusConflict {
			t.Errorf("duplicate e-mail: %d, want 409", again.status)
		}

		n := e.browser()
		if p := n.get(u.Path); p.status != http.StatusOK || !strings.Contains(p.text("main"), "new.person@nhs.net") {
			t.Fatalf("set-up page: %d", p.status)
		}
		if p := n.post(u.Path, url.Values{"password": {"short"}, "password_confirm": {"short"}}); p.status != http.StatusBadRequest || p.doc.Find(".nhsuk-form-group--error #password").Length() != 1 {
			t.Fatalf("weak password: %d", p.status)
		}
		if p := n.post(u.Path, url.Values{"password": {"password123456"}, "password_confirm": {"password123456"}}); p.status != http.StatusBadRequest {
			t.Fatalf("common password: %d", p.status)
		}
		good := "lantern orchard violet 42"
		if p := n.post(u.Path, url.Values{"password": {good}, "password_confirm": {good}}); p.status != http.StatusSeeOther {
			t.Fatalf("good password: %d %s", p.status, p.text("#error-summary"))
		}
		if p := n.get(u.Path); p.status != http.StatusNotFound {
			t.Errorf("used set-up link: %d, want 404", p.status)
		}

		if p := n.post("/signin", url.Values{"email": {"new.person@nhs.net"}, "password": {good}}); p.location() != "/signin/enrol" {
			t.Fatalf("first sign-in goes to %q, want enrolment", p.location())
		}
		if p := n.get("/account"); p.status != http.StatusSeeOther || p.location() != "/signin/enrol" {
			t.Fatalf("skipping enrolment: %d %s", p.status, p.location())
		}
		enrol := n.get("/signin/enrol")
		secret := enrol.text("#totp-secret")
		if src, _ := enrol.doc.Find("#qr").Attr("src"); secret == "" || !strings.HasPrefix(src, "data:image/png;base64,") {
			t.Fatalf("enrolment page: secret %q", secret)
		}
		if p := n.post("/signin/enrol", url.Values{"code": {"000000"}}); p.status != http.StatusBadRequest {
			t.Fatalf("wrong code: %d", p.status)
		}
		p = n.post("/signin/enrol", url.Values{"code": {auth.TOTPCode(secret, e.clock.Now())}})
		codes := p.doc.Find("#recovery-codes li")
		if p.status != http.StatusOK || codes.Length() != 10 {
			t.Fatalf("recovery codes: status %d, %d codes", p.status, codes.Length())
		}
		code := strings.TrimSpace(codes.First().Text())
		if p := n.get("/"); p.status != http.StatusOK || !p.has("h1") {
			t.Fatalf("home after enrolment: %d", p.status)
		}

		// A recovery code works once in place of a security code.
		n.post("/signout", nil)
		for i, want := range []string{"/", ""} {
			n.post("/signin", url.Values{"email": {"new.person@nhs.net"}, "password": {good}})
			p := n.post("/signin/mfa", url.Values{"code": {code}})
			if p.location() != want {
				t.Fatalf("recovery code use %d: status %d location %q", i+1, p.status, p.location())
			}
			n.post("/signout", nil)
		}
		if evs := events(t, e, audit.Filter{Actor: "new.person@nhs.net", Action: "auth."}); len(evs) < 5 {
			t.Errorf("only %d sign-in events audited for the new person", len(evs))
		}
	})
}

func TestOrganisationFormKeepsInputAndAudits(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn("admin@nhs.net")
		p := b.post("/admin/organisations", url.Values{"name": {"Hilltop Hospice"}, "ods_code": {"bad code!"}, "routing": {"site_authoriser"},
			"status": {"active"}, "isa_level": {"read_only"}, "allowed_domains": {"nhs.net"}})
		if p.status != http.StatusBadRequest || p.doc.Find(`#error-summary a[href="#ods_code"]`).Length() != 1 {
			t.Fatalf("bad ODS code: %d %s", p.status, p.text("#error-summary"))
		}
		if v, _ := p.doc.Find("input#name").Attr("value"); v != "Hilltop Hospice" {
			t.Errorf("name not kept: %q", v)
		}
		p = b.post("/admin/organisations", url.Values{"name": {"Hilltop Hospice"}, "ods_code": {"RH7"}, "routing": {"site_authoriser"},
			"status": {"active"}, "isa_level": {"read_only"}, "allowed_domains": {"nhs.net\nhilltop.org.uk"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("create: %d %s", p.status, p.text("#error-summary"))
		}
		page := b.get(p.location())
		if page.text("h1") != "Hilltop Hospice" || !strings.Contains(page.text(".nhsuk-summary-list"), "hilltop.org.uk") {
			t.Fatalf("organisation page: %q", page.text("h1"))
		}
		if p := b.post(p.location()+"/sites", url.Values{"site_name": {""}}); p.status != http.StatusBadRequest || !p.has("#site_name-error") {
			t.Errorf("empty site name: %d", p.status)
		}
		if len(events(t, e, audit.Filter{ObjectType: "organisation", Action: "organisation.create"})) != 1 {
			t.Error("organisation creation not audited")
		}
		if n, err := audit.Verify(context.Background(), e.app.DB); err != nil || n == 0 {
			t.Fatalf("verify: %d %v", n, err)
		}
	})
}

func TestAuditSearchExportAndSelfAudit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		attacker := e.browser()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/signin", strings.NewReader(url.Values{"email": {"admin@nhs.net"}, "password": {"=cmd|'/c calc'!A1 guess"}, "csrf_token": {attacker.csrf()}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.srv.URL)
		req.Header.Set("User-Agent", "=HYPERLINK(\"http://evil.example\")")
		attacker.do(req)

		b := e.browser()
		b.signIn("admin@nhs.net")
		p := b.get("/admin/audit?action=auth.&actor=admin@nhs.net")
		if p.status != http.StatusOK || p.doc.Find("#events tbody tr").Length() < 2 {
			t.Fatalf("search: %d, %d rows", p.status, p.doc.Find("#events tbody tr").Length())
		}
		if p := b.get("/admin/audit?from=yesterday"); p.status != http.StatusBadRequest || !p.has("#from-error") {
			t.Errorf("bad date: %d", p.status)
		}
		if p := b.get("/admin/audit?from=2026-11-03&to=2026-11-01"); p.status != http.StatusBadRequest {
			t.Errorf("reversed dates: %d", p.status)
		}
		if p := b.get("/admin/audit?to=2026-11-01"); p.status != http.StatusOK || !p.has("#no-events") {
			t.Errorf("no events before the test began: %d", p.status)
		}
		if len(events(t, e, audit.Filter{Action: "audit.search"})) == 0 {
			t.Error("searching the trail was not audited")
		}

		resp := b.get("/admin/audit/export.csv?action=auth.")
		if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("export content type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(resp.body)).ReadAll()
		if err != nil || len(rows) < 3 {
			t.Fatalf("export: %d rows, %v", len(rows), err)
		}
		for _, row := range rows[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
					t.Errorf("CSV cell starts with a formula character: %q", cell)
				}
			}
		}
		if !strings.Contains(resp.body, "HYPERLINK") {
			t.Error("the hostile user agent is missing from the export")
		}
		if strings.Contains(resp.body, "calc") {
			t.Error("a typed password reached the audit trail")
		}
	})
}

func TestSecurityHeadersAndErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		p := b.get("/signin")
		for h, want := range map[string]string{"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY",
			"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if !strings.Contains(p.header.Get(h), want) {
				t.Errorf("%s = %q, want %q", h, p.header.Get(h), want)
			}
		}
		if p.header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent over plain HTTP without a trusted proxy")
		}
		if p := b.get("/no/such/page"); p.status != http.StatusNotFound || p.text("h1") != "Page not found" {
			t.Errorf("404 page: %d %q", p.status, p.text("h1"))
		}
		if p := b.get("/admin/organisations"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/signin?next=%2Fadmin%2Forganisations") {
			t.Errorf("signed-out admin page: %d %s", p.status, p.location())
		}
		// After signing in, the visitor returns to the page they asked for, but
		// never to another site.
		b.post("/signin", url.Values{"email": {"admin@nhs.net"}, "password": {password}, "next": {"/admin/organisations"}})
		if p := b.post("/signin/mfa", url.Values{"code": {auth.TOTPCode(secretFor("admin@nhs.net"), e.clock.Now())}}); p.location() != "/admin/organisations" {
			t.Errorf("after sign-in went to %q", p.location())
		}
		c := e.browser()
		e.clock.Advance(30 * time.Second)
		c.post("/signin", url.Values{"email": {"admin@nhs.net"}, "password": {password}, "next": {"//evil.example/"}})
		if p := c.post("/signin/mfa", url.Values{"code": {auth.TOTPCode(secretFor("admin@nhs.net"), e.clock.Now())}}); p.location() != "/" {
			t.Errorf("open redirect: went to %q", p.location())
		}
	})
}

func TestHostileInputIsRefusedCleanly(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		for _, email := range []string{"admin@nhs.net\x00", "\xff\xfe@nhs.net", strings.Repeat("a", 5000) + "@nhs.net"} {
			p := b.post("/signin", url.Values{"email": {email}, "password": {"whatever it is"}})
			if p.status >= 500 || p.status == http.StatusOK || !p.has("#error-summary, #error-message") {
				t.Errorf("sign-in with hostile e-mail %q: status %d", email[:min(len(email), 20)], p.status)
			}
		}
		b.signIn("admin@nhs.net")
		if p := b.get("/admin/audit?actor=%00"); p.status != http.StatusBadRequest {
			t.Errorf("NUL in a search: %d", p.status)
		}
		long := strings.Repeat("x", 300)
		p := b.post("/admin/organisations", url.Values{"name": {long}, "ods_code": {"RQ1"}, "routing": {"site_authoriser"}, "allowed_domains": {"nhs.net"}})
		if p.status != http.StatusBadRequest || !p.has("#name-error") {
			t.Errorf("over-long name: %d", p.status)
		}
		p = b.post("/admin/organisations", url.Values{"name": {"Duplicate"}, "ods_code": {"RQ1"}, "routing": {"site_authoriser"}, "allowed_domains": {"nhs.net"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("first organisation: %d %s", p.status, p.text("#error-summary"))
		}
		p = b.post("/admin/organisations", url.Values{"name": {"Duplicate again"}, "ods_code": {"rq1"}, "routing": {"site_authoriser"}, "allowed_domains": {"nhs.net"}})
		if p.status != http.StatusConflict || !p.has("#error-summary") {
			t.Errorf("duplicate ODS code: %d", p.status)
		}
		var n int
		if err := e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM organisations`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d organisations stored after the refusals, want 1 (%v)", n, err)
		}
		if v, err := audit.Verify(context.Background(), e.app.DB); err != nil || v == 0 {
			t.Fatalf("verify after hostile input: %d %v", v, err)
		}
	})
}

func TestAuditPagingKeepsTheSearch(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		for range 3 {
			b.post("/signin", url.Values{"email": {"admin@nhs.net"}, "password": {"not the password at all"}})
		}
		b.signIn("admin@nhs.net")
		for range 55 { // more than one page (50) of searches
			b.get("/admin/audit?action=audit.search")
		}
		p := b.get("/admin/audit?action=audit.search")
		older, ok := p.doc.Find("#older").Attr("href")
		if !ok || !strings.Contains(older, "action=audit.search") || !strings.Contains(older, "before=") {
			t.Fatalf("older link %q", older)
		}
		first := p.text("#events tbody tr td")
		next := b.get(older)
		if next.status != http.StatusOK || next.text("#events tbody tr td") == first {
			t.Fatalf("the older page did not move on: %d", next.status)
		}
		if exp, _ := p.doc.Find("#export").Attr("href"); !strings.HasPrefix(exp, "/admin/audit/export.csv?action=audit.search") {
			t.Errorf("export link %q", exp)
		}
	})
}
