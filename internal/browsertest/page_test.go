package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one browser step. A selector that never matches makes
// chromedp wait; this turns the wait into a failure that names the step.
const stepTimeout = 15 * time.Second

// cspListener is installed in every document before the page's own scripts
// run. The browser reports violations of the Content-Security-Policy as a
// securitypolicyviolation event on the document (and as a console message,
// which the console check also sees).
const cspListener = `Object.defineProperty(window, '__caregateCSP', {value: [], enumerable: false});
document.addEventListener('securitypolicyviolation', (e) => {
  window.__caregateCSP.push(e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') +
    ' at ' + (e.sourceFile || e.documentURI) + ':' + e.lineNumber);
});`

// tab is one browser tab in a browser context of its own (so with its own
// cookies), pointed at one server. Every page it arrives at is checked (see
// check): accessibility, JavaScript errors, CSP violations and server errors.
type tab struct {
	t    *testing.T
	ctx  context.Context // the chromedp context of the tab; no deadline
	srv  *server
	name string // for screenshots: "admin", "new user"

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	shots   int
	noted   map[string]bool // other hosts' failed requests already logged
}

// openTab opens a tab in a fresh browser context.
func openTab(t *testing.T, srv *server, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(needBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, srv: srv, name: name, noted: map[string]bool{}}
	// Subscribing creates the tab, so nothing it logs is missed.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener}); err != nil {
		t.Fatalf("install the CSP listener: %v", err)
	}
	// Only the server under test is reached: tests must not depend on the
	// internet (the NHS web font host is unreachable on CI, and a resolver
	// timing out on it held every page's load event for five seconds).
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{
		{URLPattern: srv.URL + "/*", Block: false},
		{URLPattern: "*://*:*/*", Block: true},
	}}); err != nil {
		t.Fatalf("block other hosts: %v", err)
	}
	// Anything the journey leaves on the console after its last check.
	t.Cleanup(func() { b.checkConsole("after the journey's last step") })
	return b
}

// run runs one action within stepTimeout.
func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatalf("%s: %v", what, err)
	}
	return v
}

// open loads a path of the server and returns the HTTP status of the page
// (after redirects).
func (b *tab) open(path string) int {
	b.t.Helper()
	resp := run(b, "open "+path, chromedp.NavigateResponse(b.srv.URL+path))
	b.check()
	return int(resp.Status)
}

// openURL loads an absolute URL (a set-up link the server printed).
func (b *tab) openURL(u string) int {
	b.t.Helper()
	resp := run(b, "open "+u, chromedp.NavigateResponse(u))
	b.check()
	return int(resp.Status)
}

// follow clicks an element that leads to another page (a link or a submit
// button), waits for that page and returns its HTTP status after redirects.
func (b *tab) follow(sel string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.fatalf("click %s: %v", sel, err)
	}
	b.check()
	return int(resp.Status)
}

// fill sets the value of a form field.
func (b *tab) fill(sel, value string) {
	b.t.Helper()
	run(b, "fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

// typeInto types into an empty text field key by key, as a person would.
func (b *tab) typeInto(sel, value string) {
	b.t.Helper()
	run(b, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	return run(b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// text returns the text of the first element matching sel, with white space
// collapsed; the test fails when nothing matches.
func (b *tab) text(sel string) string {
	b.t.Helper()
	s := eval[*string](b, `(e => e ? e.textContent.replace(/\s+/g, ' ').trim() : null)(document.querySelector(`+jsString(sel)+`))`)
	if s == nil {
		b.fatalf("no element matches %s on %s", sel, b.where())
	}
	return *s
}

// texts returns the text of every element matching sel.
func (b *tab) texts(sel string) []string {
	b.t.Helper()
	return eval[[]string](b, `Array.from(document.querySelectorAll(`+jsString(sel)+`), e => e.textContent.replace(/\s+/g, ' ').trim())`)
}

// count returns how many elements match sel.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return eval[int](b, `document.querySelectorAll(`+jsString(sel)+`).length`)
}

// value returns the current value of the form field matching sel.
func (b *tab) value(sel string) string {
	b.t.Helper()
	s := eval[*string](b, `(e => e ? e.value : null)(document.querySelector(`+jsString(sel)+`))`)
	if s == nil {
		b.fatalf("no form field matches %s on %s", sel, b.where())
	}
	return *s
}

// attr returns an attribute of the first element matching sel ("" if absent).
func (b *tab) attr(sel, name string) string {
	b.t.Helper()
	s := eval[*string](b, `(e => e ? (e.getAttribute(`+jsString(name)+`) || '') : null)(document.querySelector(`+jsString(sel)+`))`)
	if s == nil {
		b.fatalf("no element matches %s on %s", sel, b.where())
	}
	return *s
}

// path returns the path of the current page.
func (b *tab) path() string {
	b.t.Helper()
	return eval[string](b, `location.pathname`)
}

// where names the current page for messages.
func (b *tab) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title + ' (' + location.pathname + ')'`))
	if err != nil {
		return "(unknown page)"
	}
	return strings.TrimSpace(s)
}

// wantPath fails the test unless the browser is on path.
func (b *tab) wantPath(want string) {
	b.t.Helper()
	if got := b.path(); got != want {
		b.fatalf("on %s, want path %s", b.where(), want)
	}
}

// wantStatus fails the test unless got is want.
func (b *tab) wantStatus(got, want int) {
	b.t.Helper()
	if got != want {
		b.fatalf("%s answered HTTP %d, want %d", b.where(), got, want)
	}
}

// errorf reports a failure with a screenshot of the page.
func (b *tab) errorf(format string, args ...any) {
	b.t.Helper()
	b.t.Errorf("%s: %s", b.name, fmt.Sprintf(format, args...))
	b.screenshot()
}

// fatalf is errorf that ends the test.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	b.errorf(format, args...)
	b.t.FailNow()
}

// check runs the checks every page must pass: no Content-Security-Policy
// violations, no accessibility failures, no JavaScript or console errors and
// no errors in the server's log. It is called on arrival at each page, so a
// failure names the page (and its screenshot shows it).
func (b *tab) check() {
	b.t.Helper()
	where := b.where()
	var problems []string
	if v := eval[[]string](b, `window.__caregateCSP || []`); len(v) > 0 {
		problems = append(problems, "Content-Security-Policy violations:\n    "+strings.Join(v, "\n    "))
	}
	if v := b.accessibilityViolations(where); len(v) > 0 {
		problems = append(problems, "accessibility violations (axe-core, WCAG 2.1 A/AA):\n    "+strings.Join(v, "\n    "))
	}
	if v := b.consoleErrors(where); len(v) > 0 {
		problems = append(problems, "console errors:\n    "+strings.Join(v, "\n    "))
	}
	if v := b.srv.logs.takeErrors(); len(v) > 0 {
		problems = append(problems, "errors in the server log:\n    "+strings.Join(v, "\n    "))
	}
	if len(problems) > 0 {
		b.errorf("on %s:\n  %s", where, strings.Join(problems, "\n  "))
	}
}

// checkConsole reports console errors left after the last page's check.
func (b *tab) checkConsole(when string) {
	b.t.Helper()
	if v := b.consoleErrors(when); len(v) > 0 {
		b.errorf("console errors %s:\n    %s", when, strings.Join(v, "\n    "))
	}
}

// consoleErrors returns the uncaught exceptions, console.error calls and
// browser errors (CSP refusals among them) logged since the last call.
// Failed requests are judged by what failed: our own scripts, styles and
// images must load; a page answered with an error status is the journey's to
// judge (it checks the status); requests to other hosts are blocked (see
// openTab) and only noted once.
func (b *tab) consoleErrors(where string) []string {
	b.t.Helper()
	b.mu.Lock()
	msgs := b.console
	b.console = nil
	b.mu.Unlock()
	var bad []string
	for _, m := range msgs {
		switch {
		case m.IsException(), m.Type == chromedp.ConsoleError && m.Source != "network", m.Type == "assert":
			bad = append(bad, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
		case m.Type == chromedp.ConsoleError && b.ownAsset(m.URL):
			bad = append(bad, fmt.Sprintf("failed to load %s: %s", m.URL, m.Text))
		case m.Type == chromedp.ConsoleError && !strings.HasPrefix(m.URL, b.srv.URL+"/"):
			if !b.noted[m.URL] {
				b.noted[m.URL] = true
				b.t.Logf("%s: %s did not load (other hosts are blocked): %s", b.name, m.URL, m.Text)
			}
		case m.Type == chromedp.ConsoleWarning:
			b.t.Logf("%s: console warning on %s: %s (%s)", b.name, where, m.Text, m.URL)
		}
	}
	return bad
}

// ownAsset reports whether u is a static file of our server.
func (b *tab) ownAsset(u string) bool {
	pu, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(u, b.srv.URL+"/") {
		return false
	}
	return strings.HasPrefix(pu.Path, "/static/") || strings.HasPrefix(pu.Path, "/assets/") || pu.Path == "/favicon.ico"
}

var screenshots struct {
	once sync.Once
	dir  string
	err  error
}

// screenshotDir is CAREGATE_SCREENSHOTS, or else a new temporary directory
// that is kept after the tests (a t.TempDir would be removed with the
// evidence).
func screenshotDir() (string, error) {
	screenshots.once.Do(func() {
		if d := os.Getenv("CAREGATE_SCREENSHOTS"); d != "" {
			screenshots.dir, screenshots.err = d, os.MkdirAll(d, 0o755)
			return
		}
		screenshots.dir, screenshots.err = os.MkdirTemp("", "caregate-screenshots-")
	})
	return screenshots.dir, screenshots.err
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// screenshot saves a full-page PNG of the tab and logs where.
func (b *tab) screenshot() {
	b.t.Helper()
	dir, err := screenshotDir()
	if err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	b.mu.Lock()
	b.shots++
	n := b.shots
	b.mu.Unlock()
	name := fmt.Sprintf("%s-%s-%d.png", unsafeFileChars.ReplaceAllString(b.t.Name(), "_"),
		unsafeFileChars.ReplaceAllString(b.name, "_"), n)
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot of %s: %s", b.where(), file)
}
