package access_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store/storetest"
)

// item is one entry of a bulk completion: what to send (an id or a
// reference) and the name the test knows it by.
type item struct{ label, id string }

// mixedIntake builds, in w, a list of requests to complete in bulk with
// everything that can go wrong or take another way among them.
func mixedIntake(t *testing.T, w *world) []item {
	raise := func(in access.Input) *access.Request {
		t.Helper()
		return must(w.svc.Raise(w.ctx, w.authoriser, in))(t)
	}
	named := func(email, given, family string) access.Input {
		in := newUser(w.surgery, email)
		in.GivenName, in.FamilyName = given, family
		return in
	}
	change := func(typ, email string) access.Input {
		return access.Input{Type: typ, SiteID: w.surgery.ID, Email: email, GivenName: "Gil", FamilyName: "Green", Role: access.RoleAdministrator,
			Reason: access.ReasonLeaver, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
	}
	fresh := raise(named("ann@nhs.net", "Ann", "Archer"))
	waiting := raise(newUser(w.ward, "ward@nhs.net")) // the ward's service desk has not validated it
	// Someone who signs in to the portal already, with a password of their own.
	withPassword := w.person("pat@nhs.net")
	if err := w.users.SetPassword(w.ctx, w.backOffice.Who(), withPassword.UserID, "lantern orchard violet 42"); err != nil {
		t.Fatal(err)
	}
	ownPassword := raise(named("pat@nhs.net", "Pat", "Price"))
	w.person("nopw@nhs.net") // an account that has never had a password
	noPassword := raise(named("nopw@nhs.net", "Noel", "Pike"))
	// A leaver coming back: their deleted record account is brought back.
	must(w.svc.Complete(w.ctx, w.backOffice, raise(named("leo@nhs.net", "Leo", "Lane")).ID, ""))(t)
	must(w.svc.Complete(w.ctx, w.backOffice, raise(change(access.TypeDeletion, "leo@nhs.net")).ID, ""))(t)
	back := raise(named("leo@nhs.net", "Leo", "Lane"))
	// An amendment, completed on its own among the new users.
	must(w.svc.Complete(w.ctx, w.backOffice, raise(named("gil@nhs.net", "Gil", "Green")).ID, ""))(t)
	amend := raise(change(access.TypeAmendment, "gil@nhs.net"))
	// Someone given a record account by another way since they were asked for.
	other := w.person("hal@nhs.net")
	taken := raise(named("hal@nhs.net", "Hal", "Hunt"))
	if _, err := w.db.Exec(w.ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, created_at, updated_at)
		VALUES ('ra-hal', ?, ?, 'hhunt', 'administrator', 'active', 0, 0)`, other.UserID, w.gp.ID); err != nil {
		t.Fatal(err)
	}
	// An intake that shares a user name, one of them assigned already.
	var intake []*access.Request
	for i := range 3 {
		intake = append(intake, raise(named(fmt.Sprintf("intake%d@nhs.net", i), "Dee", "Intake")))
	}
	must(w.svc.Assign(w.ctx, w.backOffice2, intake[1].ID, ""))(t)
	byRef := raise(named("ref@nhs.net", "Rae", "Reed"))
	return []item{{"fresh", fresh.ID}, {"waiting", waiting.ID}, {"intake0", intake[0].ID}, {"own password", ownPassword.ID},
		{"no password", noPassword.ID}, {"intake1", intake[1].ID}, {"back", back.ID}, {"fresh again", fresh.ID}, {"amend", amend.ID},
		{"taken", taken.ID}, {"by reference", strings.ToLower(byRef.Ref)}, {"ref again", byRef.ID}, {"unknown", "no-such-request"},
		{"intake2", intake[2].ID}}
}

// TestBulkCompletionMatchesOneByOne completes the same mixed list in bulk
// in one database and one request at a time in another: the same requests
// complete, the same are refused with the same reasons, and the requests,
// accounts, e-mails, history and audit events come out the same.
func TestBulkCompletionMatchesOneByOne(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			bulk, single := newWorld(t, e.Open(t)), newWorld(t, e.Open(t))
			items := mixedIntake(t, bulk)
			ids := make([]string, len(items))
			for i, it := range items {
				ids[i] = it.id
			}
			res := must(bulk.svc.CompleteMany(bulk.ctx, bulk.backOffice, ids, "August intake"))(t)
			// Failures are reported by what was sent: a repeated id's last.
			got := map[string]string{}
			for _, it := range items {
				if why, ok := res.Failed[it.id]; ok {
					got[lastLabel(items, it.id)] = bulk.unref(why)
				}
			}

			items2 := mixedIntake(t, single)
			want, completed := map[string]string{}, 0
			for _, it := range items2 {
				if _, err := single.svc.Complete(single.ctx, single.backOffice, it.id, "August intake"); err != nil {
					want[lastLabel(items2, it.id)] = single.unref(errs.As(err).Message)
				} else {
					completed++
				}
			}
			if res.Completed != completed || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("bulk: %d completed, refused %v\none by one: %d completed, refused %v", res.Completed, got, completed, want)
			}
			for _, label := range []string{"waiting", "fresh again", "taken", "unknown"} {
				if got[label] == "" {
					t.Errorf("%s was not refused", label)
				}
			}
			if b, s := bulk.snapshot(), single.snapshot(); b != s {
				t.Errorf("bulk and one-by-one differ:\n--- bulk\n%s\n--- one by one\n%s", b, s)
			}
			bulk.verify()
		})
	}
}

func lastLabel(items []item, id string) string {
	label := ""
	for _, it := range items {
		if it.id == id {
			label = it.label
		}
	}
	return label
}

// unref replaces request references in a message with the requests'
// e-mail addresses, which are the same in every world.
func (w *world) unref(msg string) string {
	rows, err := w.db.Query(w.ctx, `SELECT ref, email FROM access_requests`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref, email string
		if err := rows.Scan(&ref, &email); err != nil {
			w.t.Fatal(err)
		}
		msg = strings.ReplaceAll(msg, ref, email)
	}
	return msg
}

// snapshot describes the requests, people, record accounts, e-mails,
// history and audit trail of w without its random ids and references.
func (w *world) snapshot() string {
	var lines []string
	add := func(q string) {
		w.t.Helper()
		rows, err := w.db.Query(w.ctx, q)
		if err != nil {
			w.t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				w.t.Fatal(err)
			}
			lines = append(lines, fmt.Sprint(vals...))
		}
	}
	who := func(col string) string {
		return `COALESCE((SELECT email FROM users WHERE id = ` + col + `), ` + col + `)`
	}
	add(`SELECT 'request ', r.email, ' ', r.type, ' ', r.state, ' ', r.resolution, ' assigned:', ` + who("r.assigned_to") + `, ' subject:', ` + who("r.subject_user_id") + `,
		' open:', COALESCE(r.open_key, ''), ' closed:', r.closed_at, ' updated:', r.updated_at FROM access_requests r`)
	add(`SELECT 'step ', r.email, ' ', e.step, ' ', e.from_state, '>', e.to_state, ' ', e.actor, ' ', e.note, ' ', e.at
		FROM access_request_events e JOIN access_requests r ON r.id = e.request_id`)
	add(`SELECT 'user ', email, ' ', given_name, ' ', family_name, ' must-change:', must_change_password, ' ', SUBSTR(password_hash, 1, 11), ' ', updated_at FROM users`)
	add(`SELECT 'account ', u.email, ' ', a.username, ' ', a.role, ' ', a.status, ' ', a.status_reason, ' ', a.activated_at, ' ', a.updated_at
		FROM record_accounts a JOIN users u ON u.id = a.user_id`)
	add(`SELECT 'mail ', r.email, ' ', o.kind, ' to:', o.to_addr, ' ', o.sensitive FROM outbox o JOIN access_requests r ON r.id = o.related_id`)
	add(`SELECT 'audit ', e.action, ' ', e.object_type, ' ', COALESCE(r.email, u.email, e.object_id), ' ', e.actor
		FROM audit_events e LEFT JOIN access_requests r ON r.id = e.object_id LEFT JOIN users u ON u.id = e.object_id
		WHERE e.object_type IN ('access_request', 'user')`)
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// mixedFile prepares w for a bulk raise and returns its items: requests
// that go through, that wait for a service desk, that are refused for
// every reason a form can be, and that repeat a source key.
func mixedFile(t *testing.T, w *world) []access.Input {
	raise := func(in access.Input) *access.Request {
		t.Helper()
		return must(w.svc.Raise(w.ctx, w.authoriser, in))(t)
	}
	earlier := newUser(w.surgery, "earlier@nhs.net")
	earlier.SourceKey = "hr-0"
	raise(earlier)
	must(w.svc.Complete(w.ctx, w.backOffice, raise(newUser(w.surgery, "has.account@nhs.net")).ID, ""))(t)
	w.person("portal@nhs.net")
	keyed := func(in access.Input, key string) access.Input { in.SourceKey = key; return in }
	amend := func(email string) access.Input {
		return access.Input{Type: access.TypeAmendment, SiteID: w.surgery.ID, Email: email, GivenName: "Amy", FamilyName: "Able",
			Role: access.RoleAdministrator, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
	}
	badSite := newUser(w.surgery, "nosite@nhs.net")
	badSite.SiteID = "no-such-site"
	return []access.Input{
		newUser(w.surgery, "one@nhs.net"),
		newUser(w.ward, "ward@nhs.net"),
		newUser(w.surgery, "  Mixed.Case@NHS.net "),
		newUser(w.surgery, "one@nhs.net"), // open already, from the first item
		newUser(w.surgery, "mixed.case@nhs.net"),
		newUser(w.surgery, "someone@gmail.com"),
		keyed(newUser(w.surgery, "keyed@nhs.net"), "hr-1"),
		keyed(newUser(w.surgery, "keyed@nhs.net"), "hr-1"), // the same line again
		keyed(newUser(w.surgery, "earlier@nhs.net"), "hr-0"),
		keyed(newUser(w.ward, "elsewhere@nhs.net"), "hr-0"), // another organisation's key
		amend("has.account@nhs.net"),
		amend("no.account@nhs.net"),
		newUser(w.surgery, "has.account@nhs.net"),
		newUser(w.surgery, "portal@nhs.net"),
		badSite,
		newUser(w.surgery, "last@nhs.net"),
	}
}

// TestBulkRaiseMatchesOneByOne raises the same file in bulk in one
// database and one request at a time in another, and compares the
// outcomes and everything written.
func TestBulkRaiseMatchesOneByOne(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			bulk, single := newWorld(t, e.Open(t)), newWorld(t, e.Open(t))
			res := must(bulk.svc.RaiseMany(bulk.ctx, bulk.authoriser, mixedFile(t, bulk)))(t)
			var got, want []string
			describe := func(w *world, r *access.Request, err error) string {
				if err != nil {
					e := errs.As(err)
					return fmt.Sprintf("%s: %s %v", e.Code, w.unref(e.Message), e.Fields)
				}
				return fmt.Sprintf("%s %s %s subject:%t", r.Email, r.Type, r.State, r.SubjectUserID != "")
			}
			for _, it := range res {
				var err error
				if it.Error != nil {
					err = it.Error
				}
				got = append(got, describe(bulk, it.Request, err))
			}
			for _, in := range mixedFile(t, single) {
				r, err := single.svc.Raise(single.ctx, single.authoriser, in)
				want = append(want, describe(single, r, err))
			}
			if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
				t.Errorf("bulk:\n%s\none by one:\n%s", g, w)
			}
			if res[7].Request == nil || res[7].Request.ID != res[6].Request.ID {
				t.Error("a repeated source key did not return the request raised for it")
			}
			if b, s := bulk.snapshot(), single.snapshot(); b != s {
				t.Errorf("bulk and one-by-one differ:\n--- bulk\n%s\n--- one by one\n%s", b, s)
			}
			bulk.verify()
		})
	}
}

// TestConcurrentBulkCompletionsActOnce runs bulk completions of the same
// requests at once (with single completions among them): each request is
// completed once, with one account and one set of credentials, and every
// other attempt is refused because it is completed.
func TestConcurrentBulkCompletionsActOnce(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		const n = 40
		ids := make([]string, n)
		for i := range ids {
			ids[i] = must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, fmt.Sprintf("race%02d@nhs.net", i))))(t).ID
		}
		var mu sync.Mutex
		completed, refused, byBulk := 0, 0, 0
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				res, err := w.svc.CompleteMany(context.Background(), w.backOffice, ids, "")
				if err != nil {
					t.Errorf("bulk completion: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				completed += res.Completed
				byBulk += res.Completed
				for _, why := range res.Failed {
					// Completed already; or, on PostgreSQL, completed by
					// another transaction while this one was at it.
					if !strings.Contains(why, "is completed, so it cannot be completed") && !strings.Contains(why, "at the same time") &&
						why != "An account with this e-mail address already exists" {
						t.Errorf("refused because %q", why)
					}
					refused++
				}
			})
		}
		wg.Go(func() {
			_, err := w.svc.Complete(context.Background(), w.backOffice, ids[n/2], "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				completed++
			}
		})
		wg.Wait()
		var accounts, mails int
		w.db.QueryRow(w.ctx, `SELECT COUNT(*) FROM record_accounts`).Scan(&accounts)
		w.db.QueryRow(w.ctx, `SELECT COUNT(*) FROM outbox WHERE kind = 'credentials_password'`).Scan(&mails)
		// Each bulk completion completes or refuses every request.
		if completed != n || byBulk+refused != 4*n || accounts != n || mails != n {
			t.Fatalf("%d completed (%d in bulk), %d refused, %d accounts, %d password e-mails; want %d, %d, %d, %d",
				completed, byBulk, refused, accounts, mails, n, 4*n-byBulk, n, n)
		}
		w.verify()
	})
}
