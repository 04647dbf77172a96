package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/api"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/ident"
	members "github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
)

// Callers of the permission matrix, one per portal role.
const (
	anonymous      = "anonymous"
	member         = "member"
	siteAuthoriser = "site_authoriser" // of site B, in another organisation than the fixtures'
	serviceDesk    = "service_desk"    // of organisation 1
	backOffice     = "back_office"
	privacyOfficer = "privacy_officer"
	admin          = "admin"
)

var callerNames = []string{anonymous, member, siteAuthoriser, serviceDesk, backOffice, privacyOfficer, admin}

const testPassword = "kettle-Orbit-97-lantern"

// caller is a signed-in person of the fixture, with an API token and a full
// portal session.
type caller struct {
	name    string
	user    *auth.User
	token   string // bearer token
	session string // session cookie value
	csrf    string // the session's CSRF token, from GET /me
}

// stack is a real CareGate API: a migrated database, the domain services,
// the authenticator and the API handler behind Identify, served over HTTP.
type stack struct {
	db    *store.DB
	clk   *clock.Offset
	log   *audit.Log
	users *auth.Service
	orgs  *org.Service
	h     *api.Handler
	srv   *httptest.Server
	logs  *syncBuffer

	as           map[string]*caller
	org1, org2   *org.Organisation
	siteA, siteB *org.Site
	requests     *accessreq.Service
	onboarding   *onboarding.Service
	training     *training.Service
	members      *members.Service
	record       *record.Service
	spare        *auth.User // an account without roles, for account changes
	adminP       *authz.Principal
	n            atomic.Int64
}

// syncBuffer collects the handler's log for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type stackOpts struct{ demo bool }

func newStack(t *testing.T, db *store.DB, o stackOpts) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{db: db, clk: &clock.Offset{}, as: map[string]*caller{}, logs: &syncBuffer{}}
	s.log = audit.NewLog(db, s.clk)
	t.Cleanup(s.log.Close)
	// Cheap password hashing: the tests are about the API, not argon2.
	s.users = auth.NewService(db, s.log, s.clk, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	s.orgs = org.NewService(db, s.log, s.clk, s.users)
	s.requests = newRequests(t, s)
	s.onboarding = onboarding.NewService(db, s.log, s.clk, s.orgs)
	a := httpauth.New(db, s.users, []byte("test-csrf-key-0123456789abcdef0123"), false, false)
	d := api.Deps{DB: db, Users: s.users, Orgs: s.orgs, Access: s.requests, Audit: s.log, Auth: a, Clock: s.clk,
		Log: slog.New(slog.NewTextHandler(s.logs, nil)), Version: "test"}
	d.Onboarding = s.onboarding
	s.training = training.NewService(db, s.log, s.clk, s.requests, notify.NewOutbox(s.clk), training.Config{})
	d.Training = s.training
	s.members = members.NewService(db, s.log, s.clk, s.users, s.orgs, s.requests, s.training, notify.NewOutbox(s.clk), members.Config{})
	d.Members = s.members
	s.record = record.New(record.Deps{DB: db, Audit: s.log, Clock: s.clk, Training: s.training, Usage: s.requests, Sessions: s.users}, record.Config{})
	t.Cleanup(s.record.Close)
	d.Record = s.record
	if o.demo {
		d.DemoClock = s.clk
	}
	s.h = api.New(d)
	mux := http.NewServeMux()
	s.h.Register(mux)
	s.srv = httptest.NewServer(a.Identify(mux))
	t.Cleanup(s.srv.Close)

	mk := func(email, given string, roles ...string) *auth.User {
		u, err := s.users.CreateUser(ctx, audit.System, auth.NewUser{Email: email, GivenName: given, FamilyName: "Tester",
			Roles: roles, Password: testPassword})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u
	}
	users := map[string]*auth.User{
		admin:          mk("admin@nhs.net", "Ada", auth.RoleAdmin),
		backOffice:     mk("backoffice@nhs.net", "Bob", auth.RoleBackOffice),
		privacyOfficer: mk("privacy@nhs.net", "Pat", auth.RolePrivacyOfficer),
		member:         mk("member@nhs.net", "Mel"),
		siteAuthoriser: mk("authoriser@nhs.net", "Sam"),
		serviceDesk:    mk("desk@nhs.net", "Dee"),
	}
	s.spare = mk("spare@nhs.net", "Spencer")
	var err error
	if s.adminP, err = authz.Load(ctx, db, users[admin]); err != nil {
		t.Fatal(err)
	}
	str := func(v string) *string { return &v }
	if s.org1, err = s.orgs.CreateOrganisation(ctx, s.adminP, org.OrganisationInput{ODSCode: str("RR8"), Name: str("Leeds Teaching Hospitals")}); err != nil {
		t.Fatal(err)
	}
	if s.org2, err = s.orgs.CreateOrganisation(ctx, s.adminP, org.OrganisationInput{ODSCode: str("B86001"), Name: str("Burley Park Medical Centre")}); err != nil {
		t.Fatal(err)
	}
	if s.siteA, err = s.orgs.CreateSite(ctx, s.adminP, s.org1.ID, org.SiteInput{Name: str("Ward 1")}); err != nil {
		t.Fatal(err)
	}
	if s.siteB, err = s.orgs.CreateSite(ctx, s.adminP, s.org2.ID, org.SiteInput{Name: str("Reception")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.orgs.AppointAuthoriser(ctx, s.adminP, s.siteB.ID, org.Appointee{Email: "authoriser@nhs.net"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.orgs.AppointServiceDesk(ctx, s.adminP, s.org1.ID, org.Appointee{Email: "desk@nhs.net"}); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return s.orgs.AddMemberTx(ctx, tx, audit.System, ident.New(), s.siteA.ID, users[member].ID, "Staff nurse", "nursing")
	}); err != nil {
		t.Fatal(err)
	}
	for name, u := range users {
		c := &caller{name: name, user: u}
		if c.token, _, err = s.users.CreateToken(ctx, audit.System, u.ID, "test"); err != nil {
			t.Fatal(err)
		}
		c.session = s.signIn(t, u)
		s.as[name] = c
		r := s.do(t, "GET", "/api/v1/me", c, sessionMode, "")
		if r.status != 200 {
			t.Fatalf("GET /me with the session of %s: %d %s", name, r.status, r.body)
		}
		c.csrf, _ = r.json["csrf_token"].(string)
		if c.csrf == "" {
			t.Fatalf("GET /me gave no csrf_token to the session of %s", name)
		}
	}
	s.as[anonymous] = &caller{name: anonymous}
	return s
}

// signIn goes through password and MFA enrolment and returns a full session.
func (s *stack) signIn(t *testing.T, u *auth.User) string {
	t.Helper()
	ctx := context.Background()
	who := audit.Who{UserID: u.ID, Email: u.Email}
	token, sess, err := s.users.SignIn(ctx, who, u.Email, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	enrol, err := s.users.StartEnrol(ctx, sess, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.users.ConfirmEnrol(ctx, who, sess, auth.TOTPCode(enrol.Secret, s.clk.Now())); err != nil {
		t.Fatal(err)
	}
	return token
}

// next returns a number unique within the stack, for unique names.
func (s *stack) next() int64 { return s.n.Add(1) }

// expand fills the fixture placeholders of a path or body.
func (s *stack) expand(x string) string {
	return strings.NewReplacer(
		"{org1}", s.org1.ID, "{org2}", s.org2.ID, "{siteA}", s.siteA.ID, "{siteB}", s.siteB.ID,
		"{memberID}", s.as[member].user.ID, "{adminID}", s.as[admin].user.ID, "{deskID}", s.as[serviceDesk].user.ID,
		"{boID}", s.as[backOffice].user.ID, "{spareID}", s.spare.ID, "{n}", strconv.FormatInt(s.next(), 10),
	).Replace(x)
}

type authMode int

const (
	tokenMode   authMode = iota // Authorization: Bearer
	sessionMode                 // session cookie, and X-CSRF-Token on changes
)

type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

// do sends a request as c (nil or anonymous: no credentials) with a JSON body.
func (s *stack) do(t *testing.T, method, path string, c *caller, mode authMode, body string) *resp {
	t.Helper()
	h := http.Header{}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return s.doH(t, method, path, c, mode, body, h)
}

func (s *stack) doH(t *testing.T, method, path string, c *caller, mode authMode, body string, h http.Header) *resp {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if c != nil && c.user != nil {
		if mode == tokenMode {
			req.Header.Set("Authorization", "Bearer "+c.token)
		} else {
			req.AddCookie(&http.Cookie{Name: httpauth.SessionCookie, Value: c.session})
			if method != "GET" && c.csrf != "" && req.Header.Get("X-CSRF-Token") == "" {
				req.Header.Set("X-CSRF-Token", c.csrf)
			}
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &resp{status: res.StatusCode, header: res.Header, body: b}
	if ct := res.Header.Get("Content-Type"); strings.Contains(ct, "json") && len(b) > 0 {
		if err := json.Unmarshal(b, &r.json); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, b)
		}
	}
	return r
}

// jget follows a dotted path ("items.0.id") into decoded JSON.
func jget(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	return dig(v, strings.Split(path, ".")...)
}

// dig follows keys (object keys or array indexes) into decoded JSON.
func dig(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Special expectations for jget paths.
type (
	present  struct{}              // exists and is not null, "" or empty
	absent   struct{}              // does not exist
	contains struct{ v any }       // an array holding v, or a string containing it
	length   struct{ n int }       // an array of n items
	atLeast  struct{ n int }       // an array of at least n items
	itemWith struct{ k, v string } // an array holding an object with k == v
)

// checkJSON asserts want (path → value or special expectation) on r.
func checkJSON(t *testing.T, r *resp, want map[string]any, ctx string) {
	t.Helper()
	for path, w := range want {
		got, ok := jget(map[string]any(r.json), path)
		fail := func(what string) { t.Errorf("%s: %s: %s; got %v (body %s)", ctx, path, what, got, r.body) }
		switch w := w.(type) {
		case absent:
			if ok {
				fail("want absent")
			}
		case present:
			if !ok || got == nil || got == "" || fmt.Sprint(got) == "[]" || fmt.Sprint(got) == "map[]" {
				fail("want present")
			}
		case contains:
			switch g := got.(type) {
			case string:
				if !strings.Contains(g, fmt.Sprint(w.v)) {
					fail(fmt.Sprintf("want to contain %v", w.v))
				}
			case []any:
				found := false
				for _, x := range g {
					found = found || fmt.Sprint(x) == fmt.Sprint(w.v)
				}
				if !found {
					fail(fmt.Sprintf("want to contain %v", w.v))
				}
			default:
				fail(fmt.Sprintf("want something containing %v", w.v))
			}
		case length:
			if a, isArr := got.([]any); !isArr || len(a) != w.n {
				fail(fmt.Sprintf("want %d items", w.n))
			}
		case atLeast:
			if a, isArr := got.([]any); !isArr || len(a) < w.n {
				fail(fmt.Sprintf("want at least %d items", w.n))
			}
		case itemWith:
			a, _ := got.([]any)
			found := false
			for _, x := range a {
				if m, isMap := x.(map[string]any); isMap && fmt.Sprint(m[w.k]) == w.v {
					found = true
				}
			}
			if !found {
				fail(fmt.Sprintf("want an item with %s = %s", w.k, w.v))
			}
		default:
			if !ok || fmt.Sprint(got) != fmt.Sprint(w) {
				fail(fmt.Sprintf("want %v", w))
			}
		}
	}
}
