package notify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/notify/notifytest"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func completed(to string) notify.Message {
	return notify.Message{To: to, Kind: notify.KindRequestCompleted, Data: full(), RelatedType: "access_request", RelatedID: "r1"}
}

// A queued message reaches the SMTP server with its plain-text and HTML
// bodies, is marked sent with the time, and keeps its bodies (it holds no
// secret); a password message is delivered too and its bodies are then
// erased from the outbox.
func TestDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		mp := notifytest.Start(t, notifytest.Options{})
		r := newRig(t, db, mp.SMTPURL(), testRetry)
		r.start(t)
		id := r.enqueue(t, completed("sam.authoriser@nhs.net"))
		pw := r.enqueue(t, notify.Message{To: "ada@nhs.net", Kind: notify.KindCredentialsPassword,
			Data: map[string]string{"Name": "Ada", "Password": "Pw-secret-5521"}})

		got := mp.WaitFor(2, 15*time.Second)
		byTo := map[string]notifytest.Summary{}
		for _, s := range got {
			byTo[s.To[0].Address] = s
		}
		s := byTo["sam.authoriser@nhs.net"]
		full := mp.Message(s.ID)
		if full.Subject != "Request R-7K3M9Q is complete: Leeds Teaching Hospitals starter Ada Lovelace" {
			t.Errorf("subject %q", full.Subject)
		}
		if full.From.Address != "noreply@caregate.invalid" || full.From.Name != "CareGate" {
			t.Errorf("from %+v", full.From)
		}
		if full.MessageID != id+"@caregate.invalid" {
			t.Errorf("Message-ID %q, want the outbox id", full.MessageID)
		}
		if text := strings.ReplaceAll(full.Text, "\r\n", "\n"); !strings.Contains(text, "What we did:\nAccount created") || !strings.Contains(full.HTML, "<strong>R-7K3M9Q</strong>") {
			t.Errorf("bodies not delivered:\ntext: %s\nhtml: %s", full.Text, full.HTML)
		}
		if p := mp.Message(byTo["ada@nhs.net"].ID); !strings.Contains(p.Text, "Pw-secret-5521") {
			t.Errorf("password message body: %s", p.Text)
		}

		m := r.waitMessage(t, id, "sent", 5*time.Second, func(m *notify.OutboxMessage) bool { return m.Status == notify.StatusSent })
		if m.Attempts != 1 || m.SentAt == nil || m.LastError != "" || m.TextBody == "" {
			t.Errorf("after delivery: %+v", m)
		}
		p := r.waitMessage(t, pw, "sent", 5*time.Second, func(m *notify.OutboxMessage) bool { return m.Status == notify.StatusSent })
		if !p.BodyWithheld || p.TextBody != "" {
			t.Errorf("a sent password message still shows its body: %+v", p)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox WHERE id = ? AND (text_body <> '' OR html_body <> '')`, pw); n != 0 {
			t.Errorf("a sent password message keeps its bodies in the database")
		}
		if strings.Contains(r.logs.String(), "Pw-secret-5521") || strings.Contains(r.logs.String(), "What we did") {
			t.Errorf("a body reached the log:\n%s", r.logs.String())
		}
	})
}

// A transaction that rolls back leaves neither the message nor its
// delivery job; one that commits leaves one of each.
func TestRolledBackTransactionLeavesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := newRig(t, db, "smtp://"+notifytest.FreeAddr(t)+"?tls=none", testRetry)
		refused := errors.New("the change is refused")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := r.outbox.Enqueue(ctx, tx, completed("a@nhs.net")); err != nil {
				return err
			}
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("InTx = %v", err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox`); n != 0 {
			t.Errorf("%d messages after a rollback", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'email_delivery'`); n != 0 {
			t.Errorf("%d delivery jobs after a rollback", n)
		}
		r.enqueue(t, completed("a@nhs.net"))
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox`); n != 1 {
			t.Errorf("%d messages after a commit", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'email_delivery'`); n != 1 {
			t.Errorf("%d delivery jobs after a commit", n)
		}

		// EnqueueMany: all or nothing, a job for each, ids in order.
		batch := make([]notify.Message, 120)
		for i := range batch {
			batch[i] = completed(fmt.Sprintf("bulk%03d@nhs.net", i))
		}
		bad := append(append([]notify.Message(nil), batch...), notify.Message{To: "x@nhs.net", Kind: "nonsense"})
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := r.outbox.EnqueueMany(ctx, tx, bad); return err }); err == nil {
			t.Fatal("a batch with an unknown kind was accepted")
		}
		var ids []string
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			ids, err = r.outbox.EnqueueMany(ctx, tx, batch)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox`); n != 121 {
			t.Errorf("%d messages after a batch of 120, want 121", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'email_delivery'`); n != 121 {
			t.Errorf("%d delivery jobs after a batch of 120, want 121", n)
		}
		if m := r.message(t, ids[77]); len(ids) != 120 || m.To != "bulk077@nhs.net" {
			t.Errorf("ids out of order: %d ids, ids[77] is to %s", len(ids), m.To)
		}
	})
}

// With the SMTP server down nothing is lost: the attempt is recorded and
// retried on the back-off schedule (30 s, then 60 s…, by the clock); once
// the server is up the message is delivered, and only once.
func TestRetryUntilTheServerIsUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		addr := notifytest.FreeAddr(t) // nothing listens here yet
		r := newRig(t, db, "smtp://"+addr+"?tls=none", testRetry)
		r.start(t)
		id := r.enqueue(t, completed("sam@nhs.net"))

		m := r.waitMessage(t, id, "tried once", 10*time.Second, func(m *notify.OutboxMessage) bool { return m.Attempts == 1 })
		if m.Status != notify.StatusPending || m.LastError == "" {
			t.Fatalf("after a refused connection: %+v", m)
		}
		if wait := m.NextAttempt.Sub(r.clock.Now()); wait != 30*time.Second {
			t.Errorf("first retry in %s, want 30s", wait)
		}
		r.clock.Advance(30 * time.Second)
		m = r.waitMessage(t, id, "tried twice", 10*time.Second, func(m *notify.OutboxMessage) bool { return m.Attempts == 2 })
		if wait := m.NextAttempt.Sub(r.clock.Now()); wait != time.Minute {
			t.Errorf("second retry in %s, want 1m0s (doubling)", wait)
		}

		mp := notifytest.Start(t, notifytest.Options{SMTPAddr: addr})
		time.Sleep(300 * time.Millisecond)
		if n := len(mp.Messages()); n != 0 {
			t.Fatalf("delivered before the retry was due: %d messages", n)
		}
		r.clock.Advance(time.Minute)
		m = r.waitMessage(t, id, "sent", 10*time.Second, func(m *notify.OutboxMessage) bool { return m.Status == notify.StatusSent })
		if m.Attempts != 3 || m.LastError != "" {
			t.Errorf("after delivery: %d attempts, last error %q", m.Attempts, m.LastError)
		}
		time.Sleep(500 * time.Millisecond) // room for a duplicate to arrive
		if got := mp.Messages(); len(got) != 1 || got[0].To[0].Address != "sam@nhs.net" {
			t.Fatalf("the server received %d messages, want exactly 1", len(got))
		}
	})
}

// A message the server never accepts is given up about 24 hours after it
// was queued: marked failed, audited, logged without its body, its secret
// erased; and it is not tried again.
func TestGiveUpAfterTheLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, "smtp://"+notifytest.FreeAddr(t)+"?tls=none", testRetry)
		r.start(t)
		id := r.enqueue(t, notify.Message{To: "ada@nhs.net", Kind: notify.KindCredentialsPassword,
			Data: map[string]string{"Name": "Ada", "Password": "Pw-never-7710"}})
		r.waitMessage(t, id, "tried once", 10*time.Second, func(m *notify.OutboxMessage) bool { return m.Attempts == 1 })

		r.clock.Advance(23 * time.Hour) // still within the limit: tried again, not given up
		m := r.waitMessage(t, id, "tried twice", 10*time.Second, func(m *notify.OutboxMessage) bool { return m.Attempts == 2 })
		if m.Status != notify.StatusPending || m.NextAttempt.Sub(r.clock.Now()) != time.Minute {
			t.Fatalf("at 23 h: %s, next attempt %v", m.Status, m.NextAttempt)
		}
		r.clock.Advance(time.Hour + time.Minute)
		m = r.waitMessage(t, id, "failed", 10*time.Second, func(m *notify.OutboxMessage) bool { return m.Status == notify.StatusFailed })
		if m.Attempts != 3 || m.LastError == "" || !m.BodyWithheld {
			t.Errorf("given up: %+v", m)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM outbox WHERE id = ? AND (text_body <> '' OR html_body <> '')`, id); n != 0 {
			t.Errorf("a given-up password message keeps its bodies in the database")
		}
		evs, _, err := audit.Search(context.Background(), db, audit.Filter{Action: "email.failed", ObjectID: id})
		if err != nil || len(evs) != 1 || evs[0].Detail["kind"] != notify.KindCredentialsPassword || evs[0].Detail["attempts"] != "3" {
			t.Errorf("audit of the failure: %+v, %v", evs, err)
		}
		r.clock.Advance(48 * time.Hour)
		time.Sleep(300 * time.Millisecond)
		if m := r.message(t, id); m.Attempts != 3 {
			t.Errorf("tried again after giving up: %d attempts", m.Attempts)
		}
		logs := r.logs.String()
		if !strings.Contains(logs, "e-mail given up") || strings.Contains(logs, "Pw-never-7710") {
			t.Errorf("logs: want the give-up, never the password:\n%s", logs)
		}
	})
}

// Messages kept while no SMTP server was configured are delivered once one
// is: the sweep at start-up queues them.
func TestKeptMessagesGoOutWhenSMTPIsConfigured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		keeping := notify.NewOutbox(clock.NewManual(time.Now().Add(-time.Hour)))
		var ids []string
		for _, to := range []string{"one@nhs.net", "two@nhs.net"} {
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				id, err := keeping.Enqueue(ctx, tx, completed(to))
				ids = append(ids, id)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if keeping.Delivers() {
			t.Fatal("an outbox without SMTP claims to deliver")
		}
		mp := notifytest.Start(t, notifytest.Options{})
		r := newRig(t, db, mp.SMTPURL(), testRetry)
		r.start(t)
		mp.WaitFor(2, 15*time.Second)
		for _, id := range ids {
			r.waitMessage(t, id, "sent", 5*time.Second, func(m *notify.OutboxMessage) bool { return m.Status == notify.StatusSent })
		}
	})
}

// STARTTLS and authentication, when configured, are used; a wrong password
// is refused by the server and the message waits for a retry.
func TestStartTLSAndAuthentication(t *testing.T) {
	cert, key, pool := selfSigned(t)
	mp := notifytest.Start(t, notifytest.Options{Username: "caregate", Password: "s3cret-pw", TLSCert: cert, TLSKey: key, RequireTLS: true})
	for _, tc := range []struct {
		user string
		ok   bool
	}{{"caregate:s3cret-pw", true}, {"caregate:wrong", false}} {
		cfg, err := notify.ParseSMTPURL("smtp://" + tc.user + "@" + mp.SMTPAddr + "?tls=starttls")
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLSConfig = pool
		mailer, err := notify.NewSMTP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = mailer.Send(context.Background(), notify.Envelope{ID: "x" + tc.user[9:], To: "a@nhs.net", Subject: "Hello", Text: "Hi"})
		if tc.ok && err != nil {
			t.Errorf("with the right password: %v", err)
		}
		if !tc.ok && err == nil {
			t.Errorf("with a wrong password: accepted")
		}
		if err != nil && strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
	if n := len(mp.Messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
	// Without TLS configured, the server (which requires STARTTLS) refuses.
	cfg, _ := notify.ParseSMTPURL("smtp://caregate:s3cret-pw@" + mp.SMTPAddr + "?tls=none")
	mailer, _ := notify.NewSMTP(cfg)
	if err := mailer.Send(context.Background(), notify.Envelope{ID: "y", To: "a@nhs.net", Subject: "Hello", Text: "Hi"}); err == nil {
		t.Errorf("sent without STARTTLS to a server that requires it")
	}
}
