package lifecycle_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// Monday 2 November 2026, 09:00 in London (GMT).
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// world is a small region built straight in the database, so that every
// time a rule reads (activation, last use, expiry) is exactly what the test
// says.
type world struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	clock *clock.Manual
	log   *audit.Log
	acc   *access.Service
	svc   *lifecycle.Service
	admin string // user id of the administrator who invites
}

func newWorld(t testing.TB, db *store.DB) *world {
	return newWorldAt(t, db, clock.NewManual(t0), lifecycle.Config{})
}

func newWorldAt(t testing.TB, db *store.DB, c *clock.Manual, cfg lifecycle.Config) *world {
	t.Helper()
	ctx := context.Background()
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	users := auth.NewService(db, l, c, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	orgs := org.NewService(db, l, c, users)
	outbox := notify.NewOutbox(c)
	acc, err := access.NewService(ctx, db, l, c, users, orgs, outbox, nil, access.Config{ServiceName: "Westshire Care Record", BaseURL: "https://caregate.example"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServiceName, cfg.BaseURL = "Westshire Care Record", "https://caregate.example"
	svc, err := lifecycle.NewService(db, l, c, outbox, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, db: db, clock: c, log: l, acc: acc, svc: svc}
	// A second world on the same database (a second process) shares the
	// first one's administrator.
	now := c.Now().UnixMicro()
	w.exec(`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at) VALUES (?, 'admin@nhs.net', 'Ada', 'Admin', ?, ?)
		ON CONFLICT (email) DO NOTHING`, ident.New(), now, now)
	w.admin = w.str(`SELECT id FROM users WHERE email = 'admin@nhs.net'`)
	return w
}

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newWorld(t, db)) })
}

func (w *world) exec(q string, args ...any) {
	w.t.Helper()
	if _, err := w.db.Exec(w.ctx, q, args...); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
}

func (w *world) count(q string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.QueryRow(w.ctx, q, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (w *world) str(q string, args ...any) string {
	w.t.Helper()
	var s string
	if err := w.db.QueryRow(w.ctx, q, args...).Scan(&s); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
	return s
}

func (w *world) user(email, given, family string) string {
	w.t.Helper()
	id := ident.New()
	now := w.clock.Now().UnixMicro()
	w.exec(`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`, id, email, given, family, now, now)
	return id
}

func (w *world) organisation(ods string) string {
	w.t.Helper()
	id := ident.New()
	now := w.clock.Now().UnixMicro()
	w.exec(`INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
		VALUES (?, ?, ?, 'active', 'read_only', 'site_authoriser', 'nhs.net', ?, ?)`, id, ods, "Organisation "+ods, now, now)
	return id
}

func (w *world) site(orgID, name string) string {
	w.t.Helper()
	id := ident.New()
	now := w.clock.Now().UnixMicro()
	w.exec(`INSERT INTO sites (id, organisation_id, name, status, created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?)`, id, orgID, name, now, now)
	return id
}

func (w *world) authoriser(siteID, userID string) {
	w.t.Helper()
	w.exec(`INSERT INTO site_authorisers (site_id, user_id, created_at) VALUES (?, ?, ?)`, siteID, userID, w.clock.Now().UnixMicro())
}

func (w *world) serviceDesk(orgID, userID string) {
	w.t.Helper()
	w.exec(`INSERT INTO service_desk_staff (organisation_id, user_id, created_at) VALUES (?, ?, ?)`, orgID, userID, w.clock.Now().UnixMicro())
}

// member adds a membership with a status and a finishing date ("" for
// none) and returns its id.
func (w *world) member(siteID, userID, status, finishing string) string {
	w.t.Helper()
	id := ident.New()
	now := w.clock.Now().UnixMicro()
	w.exec(`INSERT INTO memberships (id, site_id, user_id, status, joined_at, finishing_date, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, siteID, userID, status, now, finishing, now)
	return id
}

// account gives a person a record account; an active one is activated now
// (its inactivity clock starts now).
func (w *world) account(userID, orgID, status, finishing string) {
	w.t.Helper()
	now := w.clock.Now().UnixMicro()
	act := int64(0)
	if status == access.AccountActive {
		act = now
	}
	w.exec(`INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, finishing_date, activated_at, idle_from, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'care_professional', ?, ?, ?, ?, ?, ?)`, ident.New(), userID, orgID, "u"+userID[:12], status, finishing, act, act, now, now)
}

// invitation creates a pending invitation now, expiring in 30 days.
func (w *world) invitation(siteID, orgID, email string) string {
	w.t.Helper()
	id := ident.New()
	now := w.clock.Now()
	w.exec(`INSERT INTO invitations (id, site_id, organisation_id, given_name, family_name, email, phone, job_title, job_category, record_role,
		ig_confirmed, token_hash, status, open_key, created_by, created_at, expires_at, sent_at, updated_at)
		VALUES (?, ?, ?, 'Ivy', 'Invitee', ?, '01234 567890', 'Nurse', 'Nursing and midwifery', 'care_professional', 1, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
		id, siteID, orgID, email, ident.Hash(id), siteID+":"+email, w.admin, now.UnixMicro(), now.Add(30*day).UnixMicro(), now.UnixMicro(), now.UnixMicro())
	return id
}

// at moves the clock to tm.
func (w *world) at(tm time.Time) {
	w.t.Helper()
	if tm.Before(w.clock.Now()) {
		w.t.Fatalf("the clock cannot go back from %s to %s", w.clock.Now(), tm)
	}
	w.clock.Advance(tm.Sub(w.clock.Now()))
}

// sweep runs a sweep and checks what it did.
func (w *world) sweep(want lifecycle.Result) {
	w.t.Helper()
	got, err := w.svc.Sweep(w.ctx)
	if err != nil {
		w.t.Fatalf("sweep at %s: %v", w.clock.Now().Format(time.RFC3339), err)
	}
	if got != want {
		w.t.Fatalf("sweep at %s: %+v, want %+v", w.clock.Now().Format(time.RFC3339), got, want)
	}
}

type mail struct{ to, subject, text, html string }

// mails returns the messages of a kind in the outbox, by recipient.
func (w *world) mails(kind string) []mail {
	w.t.Helper()
	rows, err := w.db.Query(w.ctx, `SELECT to_addr, subject, text_body, html_body FROM outbox WHERE kind = ? ORDER BY to_addr, created_at`, kind)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []mail
	for rows.Next() {
		var m mail
		if err := rows.Scan(&m.to, &m.subject, &m.text, &m.html); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// recipients lists the recipients of a kind's messages, sorted.
func (w *world) recipients(kind string) string {
	var to []string
	for _, m := range w.mails(kind) {
		to = append(to, m.to)
	}
	return strings.Join(to, " ")
}

// events returns the audit events of an action as "actor object rule".
func (w *world) events(action string) []string {
	w.t.Helper()
	rows, err := w.db.Query(w.ctx, `SELECT actor_id, actor, object_id, detail FROM audit_events WHERE action = ? ORDER BY seq`, action)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var actorID, actor, obj, detail string
		if err := rows.Scan(&actorID, &actor, &obj, &detail); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s/%s %s %s", actorID, actor, obj, detail))
	}
	return out
}

func (w *world) verifyAudit() {
	w.t.Helper()
	if _, err := audit.Verify(w.ctx, w.db); err != nil {
		w.t.Fatalf("audit chain: %v", err)
	}
}
