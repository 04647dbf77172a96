package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// queueMessage puts a message in the outbox as a change would.
func queueMessage(t *testing.T, s *stack, m notify.Message) string {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = notify.NewOutbox(s.clk).Enqueue(ctx, tx, m)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func completedMessage(to string) notify.Message {
	return notify.Message{To: to, Kind: notify.KindRequestCompleted, RelatedType: "access_request", RelatedID: "r1",
		Data: map[string]string{"Name": "Sam", "Ref": "R-1", "Title": "Leeds starter Ada Lovelace", "Type": "new_user"}}
}

func passwordMessage(to string) notify.Message {
	return notify.Message{To: to, Kind: notify.KindCredentialsPassword,
		Data: map[string]string{"Name": "Ada", "Password": "Pw-api-9931"}}
}

// addOutboxRows adds the outbox routes to the permission matrix: both are
// for administrators only.
func addOutboxRows(m map[string]access) {
	m["GET /api/v1/outbox"] = access{allowed: adminOnly, path: "/api/v1/outbox?status=pending"}
	m["GET /api/v1/outbox/{id}"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/outbox/" + queueMessage(t, s, completedMessage("someone@nhs.net")), ""
		}}
}

// The outbox API lists messages newest first with filters and pages, shows
// one with its bodies, shows a pending one-time password where no SMTP
// server delivers it (auditing the read), and withholds it once sent.
func TestOutboxAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		adm := s.as[admin]
		first := queueMessage(t, s, completedMessage("sam.one@nhs.net"))
		s.clk.Advance(time.Millisecond)
		second := queueMessage(t, s, completedMessage("sam.two@nhs.net"))
		s.clk.Advance(time.Millisecond)
		pw := queueMessage(t, s, passwordMessage("ada@nhs.net"))

		r := s.do(t, "GET", "/api/v1/outbox", adm, tokenMode, "")
		items, _ := jget(r.json, "items")
		if r.status != http.StatusOK || len(items.([]any)) != 3 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		if id, _ := jget(r.json, "items.0.id"); id != pw {
			t.Errorf("newest first: items.0 is %v, want the password message", id)
		}
		if _, ok := jget(r.json, "items.0.text_body"); ok || strings.Contains(string(r.body), "Pw-api-9931") {
			t.Errorf("a list carries bodies: %s", r.body)
		}

		// Filters and pages.
		r = s.do(t, "GET", "/api/v1/outbox?kind=request_completed&limit=1", adm, tokenMode, "")
		id0, _ := jget(r.json, "items.0.id")
		cursor, _ := jget(r.json, "next_cursor")
		if r.status != http.StatusOK || id0 != second || cursor == nil {
			t.Fatalf("first page: %d %s", r.status, r.body)
		}
		r = s.do(t, "GET", "/api/v1/outbox?kind=request_completed&limit=1&cursor="+cursor.(string), adm, tokenMode, "")
		id1, _ := jget(r.json, "items.0.id")
		if _, more := jget(r.json, "next_cursor"); id1 != first || more {
			t.Fatalf("second page: %s", r.body)
		}
		r = s.do(t, "GET", "/api/v1/outbox?to=SAM.TWO", adm, tokenMode, "")
		if items, _ := jget(r.json, "items"); len(items.([]any)) != 1 {
			t.Errorf("to filter: %s", r.body)
		}
		r = s.do(t, "GET", "/api/v1/outbox?to=%25", adm, tokenMode, "")
		if items, _ := jget(r.json, "items"); len(items.([]any)) != 0 {
			t.Errorf("a %% in the to filter is a wildcard: %s", r.body)
		}
		r = s.do(t, "GET", "/api/v1/outbox?status=lost&kind=postcard", adm, tokenMode, "")
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"status"`) || !strings.Contains(string(r.body), `"field":"kind"`) {
			t.Errorf("bad filters: %d %s", r.status, r.body)
		}

		// One message.
		r = s.do(t, "GET", "/api/v1/outbox/"+first, adm, tokenMode, "")
		if body, _ := jget(r.json, "text_body"); r.status != http.StatusOK || !strings.Contains(body.(string), "Dear Sam,") {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		if r := s.do(t, "GET", "/api/v1/outbox/nothing-here", adm, tokenMode, ""); r.status != http.StatusNotFound {
			t.Errorf("unknown id: %d", r.status)
		}

		// A pending password, no SMTP: shown, and the read audited.
		r = s.do(t, "GET", "/api/v1/outbox/"+pw, adm, tokenMode, "")
		if body, _ := jget(r.json, "text_body"); !strings.Contains(body.(string), "Pw-api-9931") {
			t.Errorf("pending password without SMTP is not shown: %s", r.body)
		}
		evs, _, err := audit.Search(context.Background(), db, audit.Filter{Action: "email.read_secret", ObjectID: pw})
		if err != nil || len(evs) != 1 || evs[0].Actor != adm.user.Email {
			t.Errorf("reading the password was not audited: %+v %v", evs, err)
		}
		// Once sent it is withheld (and its text was erased on delivery).
		if _, err := db.Exec(context.Background(), `UPDATE outbox SET status = 'sent', sent_at = 1 WHERE id = ?`, pw); err != nil {
			t.Fatal(err)
		}
		r = s.do(t, "GET", "/api/v1/outbox/"+pw, adm, tokenMode, "")
		if withheld, _ := jget(r.json, "body_withheld"); withheld != true || strings.Contains(string(r.body), "Pw-api-9931") {
			t.Errorf("a sent password is shown: %s", r.body)
		}
	})
}
