package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/notify/notifytest"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// startDelivering is start with an SMTP server configured (one that is not
// listening: the job runner is not started, so nothing is sent).
func startDelivering(t *testing.T, o store.Options) *env {
	t.Helper()
	c := clock.NewManual(t0)
	a, err := app.New(context.Background(), app.Config{DataDir: o.DataDir, DatabaseURL: o.URL, Addr: "127.0.0.1:0",
		SMTPURL: "smtp://" + notifytest.FreeAddr(t) + "?tls=none"},
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

func (e *env) queue(m notify.Message) string {
	e.t.Helper()
	ctx := context.Background()
	var id string
	if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = e.app.Outbox.Enqueue(ctx, tx, m)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

var (
	completedMail = notify.Message{To: "sam.authoriser@nhs.net", Kind: notify.KindRequestCompleted,
		Data: map[string]string{"Name": "Sam", "Ref": "R-77", "Title": "Leeds starter Ada Lovelace", "Type": "new_user"}}
	passwordMail = notify.Message{To: "ada@nhs.net", Kind: notify.KindCredentialsPassword,
		Data: map[string]string{"Name": "Ada", "Password": "Pw-portal-4417"}}
)

// Without SMTP the outbox is how messages reach people: administrators see
// every message, filter them, and read a pending one-time password (the
// reading is audited).
func TestOutboxPagesWithoutSMTP(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		done := e.queue(completedMail)
		e.clock.Advance(1e6)
		pw := e.queue(passwordMail)
		b := e.browser()
		b.signIn(e.admin.Email)

		p := b.get("/admin/outbox")
		if p.status != http.StatusOK || !p.has("#keeping") || p.doc.Find("#messages tbody tr").Length() != 2 {
			t.Fatalf("outbox page: %d, keeping note %v, %d rows", p.status, p.has("#keeping"), p.doc.Find("#messages tbody tr").Length())
		}
		if first := p.text("#messages tbody tr td a"); first != "Your shared care record password" {
			t.Errorf("newest first: first row %q", first)
		}
		if strings.Contains(p.body, "Pw-portal-4417") {
			t.Errorf("the list shows a body")
		}
		p = b.get("/admin/outbox?kind=request_completed&status=pending&to=SAM")
		if n := p.doc.Find("#messages tbody tr").Length(); p.status != http.StatusOK || n != 1 {
			t.Errorf("filtered: %d, %d rows", p.status, n)
		}
		if sel, _ := p.doc.Find("#kind option[selected]").Attr("value"); sel != "request_completed" {
			t.Errorf("the filter does not keep the chosen kind: %q", sel)
		}
		if p := b.get("/admin/outbox?status=lost"); p.status != http.StatusBadRequest || !p.has("#status-error") {
			t.Errorf("bad status: %d, inline error %v", p.status, p.has("#status-error"))
		}
		if p := b.get("/admin/outbox?status=sent"); !p.has("#no-messages") {
			t.Errorf("no sent messages, but no 'none match'")
		}

		p = b.get("/admin/outbox/" + done)
		if p.status != http.StatusOK || !strings.Contains(p.text("#text-body"), "Dear Sam,") || p.text("#to") != "sam.authoriser@nhs.net" {
			t.Fatalf("message page: %d %q", p.status, p.text("#text-body"))
		}
		if !strings.Contains(p.text("#html-body"), "<strong>R-77</strong>") {
			t.Errorf("HTML source not shown as text")
		}
		p = b.get("/admin/outbox/" + pw)
		if !strings.Contains(p.text("#text-body"), "Pw-portal-4417") || !p.has("#secret-warning") {
			t.Errorf("pending password without SMTP: body %q, warning %v", p.text("#text-body"), p.has("#secret-warning"))
		}
		if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control %q on a page with a password", cc)
		}
		evs, _, err := audit.Search(context.Background(), e.app.DB, audit.Filter{Action: "email.read_secret", ObjectID: pw})
		if err != nil || len(evs) != 1 {
			t.Errorf("reading the password was not audited: %v %v", evs, err)
		}
		if p := b.get("/admin/outbox/not-a-message"); p.status != http.StatusNotFound {
			t.Errorf("unknown message: %d", p.status)
		}
		if p := b.get("/admin"); !p.has(`a[href="/admin/outbox"]`) {
			t.Errorf("the administration page does not link to the outbox")
		}
	})
}

// With an SMTP server configured, the portal never shows a one-time
// password (pending or sent): e-mail is its way out.
func TestOutboxPagesWithSMTP(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		e := startDelivering(t, o)
		done := e.queue(completedMail)
		pw := e.queue(passwordMail)
		b := e.browser()
		b.signIn(e.admin.Email)
		p := b.get("/admin/outbox")
		if p.status != http.StatusOK || p.has("#keeping") {
			t.Fatalf("outbox with SMTP: %d, keeping note %v", p.status, p.has("#keeping"))
		}
		p = b.get("/admin/outbox/" + pw)
		if !p.has("#withheld") || strings.Contains(p.body, "Pw-portal-4417") {
			t.Errorf("a pending password is shown while SMTP delivers it")
		}
		if p := b.get("/admin/outbox/" + done); !strings.Contains(p.text("#text-body"), "Dear Sam,") || p.text("#attempts") != "0" {
			t.Errorf("ordinary message with SMTP: body %q, attempts %q", p.text("#text-body"), p.text("#attempts"))
		}
	})
}
