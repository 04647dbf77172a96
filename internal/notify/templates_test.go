package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// full is data for every key any template reads.
func full() map[string]string {
	return map[string]string{
		"Name": "Sam Authoriser", "Ref": "R-7K3M9Q", "Title": "Leeds Teaching Hospitals starter Ada Lovelace",
		"Type": "new_user", "State": "completed", "Question": "What is Ada's job title?", "Reason": "Not employed here",
		"Resolution": "Account created with the Care Professional role", "Link": "https://caregate.example.nhs.uk/requests/r1",
		"Username": "ada.lovelace", "Password": "Pw-one-time-7731", "Change": "Your access has been deactivated.",
		"Due": "9 November 2026", "Module": "Information governance and confidentiality", "LapsesOn": "2 November 2027", "Days": "30",
		"InvitedBy": "Sarah Jones", "Site": "District Nursing North", "Organisation": "Riverside Community Health", "Expires": "2 December 2026",
		// The automatic rules of the access lifecycle.
		"Service": "Westshire Care Record", "On": "2 February 2027", "Why": "because it has not been used for 90 days",
		"Next": "Ask your site authoriser to reactivate it.", "Count": "2",
		"People": "Ada Lovelace (ada@nhs.net), Ward 7: ends on 16 November 2026\nAlan Turing (alan@nhs.net), Ward 7: ends on 18 November 2026",
	}
}

// enqueueOne writes one message on a keeping outbox and reads it back.
func enqueueOne(t *testing.T, db *store.DB, m notify.Message) *notify.OutboxMessage {
	t.Helper()
	ctx := context.Background()
	o := notify.NewOutbox(clock.NewManual(t0))
	var id string
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = o.Enqueue(ctx, tx, m)
		return err
	}); err != nil {
		t.Fatalf("Enqueue %s: %v", m.Kind, err)
	}
	s, err := notify.Get(ctx, db, id, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every kind renders a subject, a plain-text body and an HTML body from
// its data, in plain words, with the link.
func TestEveryKindRenders(t *testing.T) {
	db := storetest.OpenSQLite(t)
	wantSubject := map[string]string{
		notify.KindRequestSubmitted:        "We have received request R-7K3M9Q: Leeds Teaching Hospitals starter Ada Lovelace",
		notify.KindRequestValidated:        "Request R-7K3M9Q has been checked: Leeds Teaching Hospitals starter Ada Lovelace",
		notify.KindRequestNeedsInformation: "Request R-7K3M9Q: we need more information",
		notify.KindRequestCompleted:        "Request R-7K3M9Q is complete: Leeds Teaching Hospitals starter Ada Lovelace",
		notify.KindRequestRejected:         "Request R-7K3M9Q has not been approved",
		notify.KindRequestCancelled:        "Request R-7K3M9Q has been cancelled",
		notify.KindCredentialsUsername:     "Your shared care record user name",
		notify.KindCredentialsPassword:     "Your shared care record password",
		notify.KindAccessChanged:           "Your access to the shared care record has changed",
		notify.KindTrainingReminder:        "Your Information governance and confidentiality training lapses on 2 November 2027",
		notify.KindInvitation:              "You are invited to join District Nursing North on the shared care record",
		// The automatic rules of the access lifecycle.
		notify.KindInactivityWarning:  "Your access to the Westshire Care Record will be deactivated on 2 February 2027",
		notify.KindAccessEnded:        "Your access to the Westshire Care Record has been deactivated",
		notify.KindMembersAccessEnded: "Access to the Westshire Care Record deactivated for 2 of your members",
		notify.KindFinishingReminder:  "Access to the Westshire Care Record ends soon for 2 of your members",
		notify.KindRecordDataProblem:  "Data problem reported in the shared care record: R-7K3M9Q",
	}
	wantText := map[string][]string{
		notify.KindRequestSubmitted:        {"Dear Sam Authoriser,", "your new user request R-7K3M9Q", "We will email you at each step"},
		notify.KindRequestValidated:        {"passed to the account management team", "We aim to complete it by 9 November 2026."},
		notify.KindRequestNeedsInformation: {"Our question:\nWhat is Ada's job title?", "on hold until you answer", "Answer the question:\nhttps://"},
		notify.KindRequestCompleted:        {"is complete", "What we did:\nAccount created", "2 separate emails"},
		notify.KindRequestRejected:         {"We could not approve", "The reason:\nNot employed here"},
		notify.KindRequestCancelled:        {"has been cancelled", "The reason:\nNot employed here"},
		notify.KindCredentialsUsername:     {"Your user name is:\nada.lovelace", "password will be sent to you in a separate email"},
		notify.KindCredentialsPassword:     {"one-time password", "Pw-one-time-7731", "user name was sent to you in a separate email"},
		notify.KindAccessChanged:           {"Your access has been deactivated.", "The reason:\nNot employed here"},
		notify.KindTrainingReminder:        {"lapses on 2 November 2027, in 30 days", "retaking the module does not remove it", "Retake the module:\nhttps://"},
		notify.KindInvitation:              {"Sarah Jones has invited you to join District Nursing North (Riverside Community Health)", "expires on 2 December 2026", "Accept your invitation:\nhttps://"},
		// The automatic rules of the access lifecycle.
		notify.KindInactivityWarning:  {"not used for 30 days is deactivated", "deactivated on 2 February 2027", "Sign in to CareGate:\nhttps://"},
		notify.KindAccessEnded:        {"has been deactivated because it has not been used for 90 days.", "Ask your site authoriser"},
		notify.KindMembersAccessEnded: {"for 90 days:\n\nAda Lovelace (ada@nhs.net), Ward 7", "\nAlan Turing (alan@nhs.net)", "Manage your sites:\nhttps://"},
		notify.KindFinishingReminder:  {"within 30 days:\n\nAda Lovelace (ada@nhs.net), Ward 7: ends on 16 November 2026\nAlan", "extend their finishing date"},
		notify.KindRecordDataProblem:  {"an item your organisation sent", "Leeds Teaching Hospitals starter Ada Lovelace", "What looks wrong:\nNot employed here"},
	}
	if len(wantSubject) != len(notify.Kinds()) {
		t.Fatalf("test covers %d kinds, there are %d", len(wantSubject), len(notify.Kinds()))
	}
	for _, kind := range notify.Kinds() {
		t.Run(kind, func(t *testing.T) {
			s := enqueueOne(t, db, notify.Message{To: "sam@nhs.net", Kind: kind, Data: full()})
			if s.Subject != wantSubject[kind] {
				t.Errorf("subject %q, want %q", s.Subject, wantSubject[kind])
			}
			for _, w := range append(wantText[kind], "Link", "https://caregate.example.nhs.uk/requests/r1", "Do not reply to it.") {
				if w == "Link" {
					continue
				}
				if !strings.Contains(s.TextBody, w) {
					t.Errorf("text body lacks %q:\n%s", w, s.TextBody)
				}
			}
			if strings.Contains(s.TextBody, "<no value>") || strings.Contains(s.HTMLBody, "<no value>") {
				t.Errorf("a template printed <no value>")
			}
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(s.HTMLBody))
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Find("title").Text(); got != s.Subject {
				t.Errorf("HTML title %q, want the subject", got)
			}
			if href, _ := doc.Find(`a[href="https://caregate.example.nhs.uk/requests/r1"]`).Attr("href"); href == "" {
				t.Errorf("HTML body has no link to the request")
			}
			if !strings.Contains(doc.Text(), "Dear Sam Authoriser,") {
				t.Errorf("HTML body lacks the greeting")
			}
		})
	}
}

// Optional data left out leaves no gaps or stray words.
func TestOptionalDataLeftOut(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s := enqueueOne(t, db, notify.Message{To: "sam@nhs.net", Kind: notify.KindRequestCancelled,
		Data: map[string]string{"Name": "Sam", "Ref": "R-1", "Title": "T"}})
	for _, bad := range []string{"The reason", "View the request", "  "} {
		if strings.Contains(s.TextBody, bad) {
			t.Errorf("text body contains %q without the data for it:\n%s", bad, s.TextBody)
		}
	}
	if !strings.Contains(s.TextBody, "Your request R-1 has been cancelled") {
		t.Errorf("text body without a type:\n%s", s.TextBody)
	}
}

// The password sent to the user never carries the user name, even if the
// caller passes it: one intercepted message must not be enough to sign in.
// Sent to a nominated individual, it names the user it is for.
func TestPasswordMessage(t *testing.T) {
	db := storetest.OpenSQLite(t)
	toUser := enqueueOne(t, db, notify.Message{To: "ada@nhs.net", Kind: notify.KindCredentialsPassword,
		Data: map[string]string{"Name": "Ada Lovelace", "Username": "ada.lovelace", "Password": "Pw-1"}})
	for _, body := range []string{toUser.Subject, toUser.TextBody, toUser.HTMLBody} {
		if strings.Contains(body, "ada.lovelace") {
			t.Errorf("the password message to the user contains the user name:\n%s", body)
		}
	}
	if !toUser.Sensitive {
		t.Errorf("a password message is not marked sensitive")
	}
	nominated := enqueueOne(t, db, notify.Message{To: "ig.lead@nhs.net", Kind: notify.KindCredentialsPassword,
		Data: map[string]string{"Name": "Ivy Lead", "ForName": "Ada Lovelace", "Username": "ada.lovelace", "Password": "Pw-2"}})
	if nominated.Subject != "Password for Ada Lovelace's shared care record account" {
		t.Errorf("subject to the nominated individual: %q", nominated.Subject)
	}
	for _, w := range []string{"Dear Ivy Lead,", "nominated", "for Ada Lovelace (user name ada.lovelace):\nPw-2", "Give it to Ada Lovelace in a secure way"} {
		if !strings.Contains(nominated.TextBody, w) {
			t.Errorf("message to the nominated individual lacks %q:\n%s", w, nominated.TextBody)
		}
	}
}

// User-typed text is escaped in the HTML body and cannot add a header line
// to the subject.
func TestHostileData(t *testing.T) {
	db := storetest.OpenSQLite(t)
	d := full()
	d["Title"] = "Ada <script>alert(1)</script>\r\nBcc: victim@example.com"
	d["Link"] = "javascript:alert(1)"
	s := enqueueOne(t, db, notify.Message{To: "sam@nhs.net", Kind: notify.KindRequestSubmitted, Data: d})
	if strings.ContainsAny(s.Subject, "\r\n") {
		t.Errorf("subject keeps a line break: %q", s.Subject)
	}
	if strings.Contains(s.HTMLBody, "<script>") || strings.Contains(s.HTMLBody, `href="javascript:`) {
		t.Errorf("HTML body not escaped:\n%s", s.HTMLBody)
	}
}

// Enqueue refuses an unknown kind, missing data and a bad recipient, and
// writes nothing.
func TestEnqueueRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		o := notify.NewOutbox(clock.NewManual(t0))
		cases := map[string]notify.Message{
			"unknown kind":    {To: "a@nhs.net", Kind: "request_teleported", Data: full()},
			"no kind":         {To: "a@nhs.net", Data: full()},
			"missing data":    {To: "a@nhs.net", Kind: notify.KindRequestRejected, Data: map[string]string{"Name": "A", "Ref": "R", "Title": "T"}},
			"no recipient":    {Kind: notify.KindAccessChanged, Data: full()},
			"header in To":    {To: "a@nhs.net\r\nBcc: b@nhs.net", Kind: notify.KindAccessChanged, Data: full()},
			"no password":     {To: "a@nhs.net", Kind: notify.KindCredentialsPassword, Data: map[string]string{"Name": "A"}},
			"blank user name": {To: "a@nhs.net", Kind: notify.KindCredentialsUsername, Data: map[string]string{"Name": "A", "Username": " "}},
		}
		for name, m := range cases {
			err := db.InTx(ctx, func(tx *store.Tx) error { _, err := o.Enqueue(ctx, tx, m); return err })
			if err == nil {
				t.Errorf("%s: accepted", name)
			} else if strings.Contains(err.Error(), "Pw-") {
				t.Errorf("%s: the error repeats data: %v", name, err)
			}
		}
		ms, _, err := notify.List(ctx, db, notify.Filter{})
		if err != nil || len(ms) != 0 {
			t.Fatalf("outbox after refusals: %d messages, %v", len(ms), err)
		}
	})
}
