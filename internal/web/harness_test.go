package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// cheap hashing keeps the suite fast; production parameters are tested in auth.
var cheap = auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 1024, Threads: 1}}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const password = "correct horse battery staple"

// env is a running portal on a fresh database.
type env struct {
	t     *testing.T
	app   *app.App
	srv   *httptest.Server
	clock *clock.Manual
	admin *auth.User
}

func start(t *testing.T, o store.Options) *env {
	t.Helper()
	c := clock.NewManual(t0)
	a, err := app.New(context.Background(), app.Config{DataDir: o.DataDir, DatabaseURL: o.URL, Addr: "127.0.0.1:0"},
		app.Options{Clock: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: cheap})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &env{t: t, app: a, srv: srv, clock: c}
	e.admin = e.user("admin@nhs.net", auth.RoleAdmin)
	return e
}

// each runs fn against a fresh portal on every engine.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) { fn(t, start(t, o)) })
}

// user creates an account with the test password and MFA set up.
func (e *env) user(email string, roles ...string) *auth.User {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.app.Users.CreateUser(ctx, audit.System, auth.NewUser{Email: email, GivenName: "Test", FamilyName: strings.Split(email, "@")[0],
		Roles: roles, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error { return e.app.Users.EnableTOTPWithSecret(ctx, tx, u.ID, secretFor(email)) }); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// secretFor derives a fixed base32 TOTP secret from an e-mail address.
func secretFor(email string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b strings.Builder
	for i := 0; i < 32; i++ {
		b.WriteByte(alphabet[(int(email[i%len(email)])+i*7)%32])
	}
	return b.String()
}

// browser is one visitor with its own cookies.
type browser struct {
	e   *env
	c   *http.Client
	ip  string
	dbg string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its parsed document.
type page struct {
	status int
	header http.Header
	body   string
	doc    *goquery.Document
}

func (p *page) text(sel string) string { return strings.TrimSpace(p.doc.Find(sel).First().Text()) }
func (p *page) has(sel string) bool    { return p.doc.Find(sel).Length() > 0 }
func (p *page) location() string       { return p.header.Get("Location") }

func (b *browser) do(req *http.Request) *page {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(raw)))
	return &page{status: resp.StatusCode, header: resp.Header, body: string(raw), doc: doc}
}

func (b *browser) get(path string) *page {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

// csrf fetches a page with a form and returns its CSRF token.
func (b *browser) csrf() string {
	b.e.t.Helper()
	p := b.get("/account")
	if p.status != http.StatusOK {
		p = b.get("/signin")
	}
	tok, ok := p.doc.Find(`input[name=csrf_token]`).First().Attr("value")
	if !ok {
		b.e.t.Fatalf("no CSRF token on the page (status %d)", p.status)
	}
	return tok
}

// post submits a form as the portal would: same origin, with the CSRF token.
func (b *browser) post(path string, form url.Values) *page {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf_token") == "" {
		form.Set("csrf_token", b.csrf())
	}
	return b.postRaw(path, form, b.e.srv.URL)
}

func (b *browser) postRaw(path string, form url.Values, origin string) *page {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}

// signIn goes through password and security code, failing the test if the
// person does not end up fully signed in.
func (b *browser) signIn(email string) {
	b.e.t.Helper()
	p := b.post("/signin", url.Values{"email": {email}, "password": {password}})
	if p.status != http.StatusSeeOther || p.location() != "/signin/mfa" {
		b.e.t.Fatalf("sign-in of %s: status %d location %q: %s", email, p.status, p.location(), p.text("#error-summary"))
	}
	p = b.post("/signin/mfa", url.Values{"code": {auth.TOTPCode(secretFor(email), b.e.clock.Now())}})
	if p.status != http.StatusSeeOther || p.location() != "/" {
		b.e.t.Fatalf("security code of %s: status %d location %q: %s", email, p.status, p.location(), p.text("#error-summary"))
	}
}
