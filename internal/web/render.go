package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

//go:embed templates/*.html
var templateFS embed.FS

// Page is what every template receives.
type Page struct {
	Title     string
	Nav       string // which navigation item is current
	P         *authz.Principal
	CSRF      string
	Flash     string
	Err       *errs.Error // error summary
	Form      url.Values  // submitted values, re-shown after an error
	Data      any
	Demo      bool
	Now       time.Time
	RequestID string
	Suspended string // while new access requests are suspended, the message shown on every page
}

// FieldError returns the message for a field, for the inline error.
func (p *Page) FieldError(field string) string {
	if p.Err == nil {
		return ""
	}
	for _, f := range p.Err.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// Value returns a submitted form value.
func (p *Page) Value(field string) string {
	if p.Form == nil {
		return ""
	}
	return p.Form.Get(field)
}

// IsAuthoriser reports whether to show "Manage sites".
func (p *Page) IsAuthoriser() bool { return p.P.IsAuthoriser() }

// IsAdmin reports whether to show "Administration".
func (p *Page) IsAdmin() bool { return p.P.IsAdmin() }

// Staff reports whether the principal holds any region-wide role.
func (p *Page) Staff() bool { return p.P != nil && len(p.P.Global) > 0 }

// parseTemplates parses every page with the shared layout at start-up, so a
// broken template fails at once rather than on first use.
func parseTemplates(assets *Assets) (map[string]*template.Template, error) {
	head, err := headLinks(assets)
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"head": func() template.HTML { return head },
		"date": formatDate,
		"day":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
		"join": strings.Join,
		"list": func(xs ...string) []string { return xs },
		// dict passes several named values to a shared template.
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict needs pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"label": label,
		"has": func(xs []string, x string) bool {
			for _, v := range xs {
				if v == x {
					return true
				}
			}
			return false
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := path.Base(p)
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, p)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out[strings.TrimSuffix(name, ".html")] = t
	}
	return out, nil
}

// formatDate is how pages show an instant: "15:04 02/01/2006", in UTC.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04 02/01/2006")
}

// headLinks is the stylesheets, icon and script every page links to, at
// their content-hashed addresses: written once, at start-up.
func headLinks(assets *Assets) (template.HTML, error) {
	var b strings.Builder
	for _, l := range []struct{ format, asset string }{
		{`<link rel="stylesheet" href="%s">`, "nhsuk/nhsuk-frontend.min.css"},
		{`<link rel="stylesheet" href="%s">`, "caregate.css"},
		{`<link rel="icon" href="%s" type="image/svg+xml">`, "nhsuk/assets/images/favicon.svg"},
		{`<script type="module" src="%s"></script>`, "nhsuk/nhsuk-frontend.init.min.js"},
	} {
		u := assets.URL(l.asset)
		if u == "" {
			return "", fmt.Errorf("unknown asset %q", l.asset)
		}
		fmt.Fprintf(&b, l.format+"\n", template.HTMLEscapeString(u))
	}
	return template.HTML(strings.TrimSuffix(b.String(), "\n")), nil
}

// navItems are the header's menu: the Nav value that marks an item
// current, its address and its text.
var navItems = []struct{ nav, href, text string }{
	{"home", "/", "Home"}, {"requests", "/requests", "Requests"}, {"record", "/record", "Care record"},
	{"training", "/training", "Training"}, {"sites", "/sites", "Manage sites"}, {"admin", "/admin", "Administration"},
	{"account", "/account", "Your account"},
}

// Navigation is the header's menu for the signed-in user: "Manage sites"
// for site authorisers, "Administration" for administrators and privacy
// officers, and the page's own item marked current. It is written in Go:
// as template actions its comparisons cost more than the page's content.
func (p *Page) Navigation() template.HTML {
	sites, admin := p.IsAuthoriser(), p.IsAdmin() || p.P.Has(authz.PrivacyOfficer)
	var b strings.Builder
	b.Grow(2 << 10)
	b.WriteString(`<nav class="nhsuk-header__navigation" aria-label="Menu">
    <div class="nhsuk-header__navigation-container nhsuk-width-container">
      <ul class="nhsuk-header__navigation-list">
`)
	for _, it := range navItems {
		if it.nav == "sites" && !sites || it.nav == "admin" && !admin {
			continue
		}
		cur := it.nav == p.Nav
		b.WriteString(`        <li class="nhsuk-header__navigation-item`)
		if cur {
			b.WriteString(` nhsuk-header__navigation-item--current`)
		}
		b.WriteString(`"><a class="nhsuk-header__navigation-link" href="`)
		b.WriteString(it.href)
		b.WriteString(`"`)
		if cur {
			b.WriteString(` aria-current="page"`)
		}
		b.WriteString(`>`)
		b.WriteString(it.text)
		b.WriteString("</a></li>\n")
	}
	b.WriteString(`      </ul>
    </div>
  </nav>`)
	return template.HTML(b.String())
}

var labels = map[string]string{
	"admin": "Programme administrator", "back_office": "Back office", "privacy_officer": "Privacy officer",
	"site_authoriser": "Site authoriser", "service_desk": "Service desk", "member": "Member",
	"read_only": "Read only", "write": "Write", "site_authoriser_routing": "Site authoriser",
	"active": "Active", "suspended": "Suspended", "left": "Left", "closed": "Closed", "deactivated": "Deactivated",
	"success": "Success", "failure": "Failure", "refused": "Refused",
}

func label(s string) string {
	if l, ok := labels[s]; ok {
		return l
	}
	return strings.ReplaceAll(s, "_", " ")
}

// render writes a page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, pg *Page) {
	t, ok := h.templates[name]
	if !ok {
		h.log.Error("no such template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	c := httpauth.From(r.Context())
	pg.P = c.Principal
	pg.CSRF = h.auth.CSRFToken(w, r)
	pg.Demo = h.demo != nil
	pg.Now = h.clock.Now()
	pg.RequestID = w.Header().Get("X-Request-Id")
	pg.Suspended = h.suspendedBanner(r)
	if pg.Flash == "" {
		pg.Flash = h.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		h.log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// flash messages travel in a short-lived cookie across a redirect.
const flashCookie = "caregate_flash"

func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(flash), Path: "/", HttpOnly: true,
			Secure: h.auth.IsTLS(r), SameSite: http.SameSiteLaxMode, MaxAge: 60})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.auth.IsTLS(r), SameSite: http.SameSiteLaxMode})
	v, _ := url.QueryUnescape(ck.Value)
	if len(v) > 300 {
		v = v[:300]
	}
	return v
}

// fail renders an error page for err, mapping its code to a status once.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	status := Status(e.Code)
	if e.Code == errs.Unauthenticated && r.Method == http.MethodGet {
		h.redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), "")
		return
	}
	if status >= 500 {
		h.log.Error("request failed", "route", r.Pattern, "request_id", w.Header().Get("X-Request-Id"), "err", err)
	}
	title := map[int]string{400: "There is a problem", 401: "Sign in to continue", 403: "You do not have permission to see this page",
		404: "Page not found", 409: "This cannot be done now", 429: "Too many attempts", 500: "Sorry, there is a problem with the service"}[status]
	if title == "" {
		title = "There is a problem"
	}
	h.render(w, r, status, "error", &Page{Title: title, Data: e.Message})
}

// Status maps an error code to an HTTP status.
func Status(c errs.Code) int { return errs.HTTPStatus(c) }

// formError re-renders a form page with the error summary and inline errors,
// keeping what was typed (passwords excepted).
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, name string, pg *Page, err error) {
	h.formErrorWith(w, r, pg, err, func(status int) { h.render(w, r, status, name, pg) })
}

// formErrorWith is formError with a custom renderer, for pages that gather
// their own data.
func (h *Handler) formErrorWith(w http.ResponseWriter, r *http.Request, pg *Page, err error, show func(status int)) {
	e := errs.As(err)
	if e.Code != errs.Invalid && e.Code != errs.Conflict && e.Code != errs.TooMany && e.Code != errs.Unauthenticated {
		h.fail(w, r, err)
		return
	}
	pg.Err = e
	pg.Form = r.PostForm
	for _, secret := range []string{"password", "password_confirm", "current_password", "code", "csrf_token"} {
		pg.Form.Del(secret)
	}
	show(Status(e.Code))
}

var errForbidden = errs.E(errs.Forbidden, "You do not have permission to do this")
