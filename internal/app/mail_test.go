package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/notify/notifytest"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// With --smtp-url and --mail-from, the app's outbox delivers through its
// job runner once the runner is started (as serve does); Close stops the
// runner before the database closes.
func TestAppDeliversMail(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		mp := notifytest.Start(t, notifytest.Options{})
		ctx := context.Background()
		a, err := app.New(ctx, app.Config{DataDir: o.DataDir, DatabaseURL: o.URL, Addr: "127.0.0.1:0",
			SMTPURL: mp.SMTPURL(), MailFrom: "Leeds CareGate <caregate@leeds.nhs.uk>"}, app.Options{Auth: cheapHash, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if !a.Outbox.Delivers() {
			t.Fatal("an app with an SMTP URL does not deliver")
		}
		if err := a.Jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := a.Outbox.Enqueue(ctx, tx, notify.Message{To: "ada@nhs.net", Kind: notify.KindCredentialsUsername,
				Data: map[string]string{"Name": "Ada", "Username": "ada.lovelace"}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got := mp.WaitFor(1, 15*time.Second)
		if got[0].From.Address != "caregate@leeds.nhs.uk" || got[0].Subject != "Your shared care record user name" {
			t.Errorf("delivered: %+v", got[0])
		}
	})
}

// Without SMTP, messages are kept; app.New does not start the runner.
func TestAppKeepsMailWithoutSMTP(t *testing.T) {
	a, err := app.New(context.Background(), app.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"}, app.Options{Auth: cheapHash, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Outbox.Delivers() || a.Jobs == nil {
		t.Fatalf("outbox delivers %v, runner %v", a.Outbox.Delivers(), a.Jobs)
	}
}

// A bad mail configuration is refused in words an operator can act on,
// without repeating the password.
func TestMailConfigValidation(t *testing.T) {
	for _, c := range []app.Config{
		{SMTPURL: "http://user:hunter2@mail"},
		{SMTPURL: "smtp://user:hunter2@mail?tls=maybe"},
		{SMTPURL: "smtp://user:hunter2@mail:port"},
		{SMTPURL: "smtp://mail", MailFrom: "not an address"},
		{MailFrom: "CareGate noreply"},
	} {
		c.Addr = "127.0.0.1:0"
		err := c.Validate()
		if err == nil {
			t.Errorf("%+v: accepted", c)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats the password: %v", err)
		}
	}
	ok := app.Config{Addr: "127.0.0.1:0", SMTPURL: "smtp://u:hunter2@mail.example.nhs.uk", MailFrom: "CareGate <noreply@example.nhs.uk>"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a good configuration: %v", err)
	}
	if d := ok.DescribeMail(); strings.Contains(d, "hunter2") || !strings.Contains(d, "mail.example.nhs.uk:587") {
		t.Errorf("DescribeMail = %q", d)
	}
}
