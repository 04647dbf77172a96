package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// TestRefusals covers what is refused before any handler runs: bad tokens,
// oversized bodies, and tokens of deactivated accounts.
func TestRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		bad := http.Header{"Authorization": {"Bearer cgt_notarealtoken"}}
		for _, path := range []string{"/api/v1/me", "/api/v1/openapi.json"} {
			r := s.doH(t, "GET", path, nil, tokenMode, "", bad)
			if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s with a bad token: %d %q", path, r.status, r.header.Get("WWW-Authenticate"))
			}
			checkJSON(t, r, map[string]any{"code": "unauthenticated", "detail": contains{"not valid"}}, path)
		}

		big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
		r := s.do(t, "POST", "/api/v1/organisations", s.as[admin], tokenMode, big)
		if r.status != 413 {
			t.Errorf("oversized body: %d", r.status)
		}
		checkJSON(t, r, map[string]any{"code": "too_large", "status": 413}, "oversized body")

		// NUL characters (which PostgreSQL cannot store) are refused with a
		// clear 400 in a body and in a query string, never a 500.
		for _, body := range []string{`{"name":"Trust\u0000","ods_code":"RQ1"}`, `{"name":"Trust","ods_code":"RQ\u0000"}`} {
			r := s.do(t, "POST", "/api/v1/organisations", s.as[admin], tokenMode, body)
			if r.status != 400 || !strings.Contains(string(r.body), "NUL") {
				t.Errorf("NUL in a body: %d %s", r.status, r.body)
			}
		}
		// Bytes that are not UTF-8 are refused, not turned into U+FFFD.
		if r := s.do(t, "POST", "/api/v1/organisations", s.as[admin], tokenMode, "{\"name\":\"Caf\xe9 Trust\",\"ods_code\":\"RQ1\"}"); r.status != 400 ||
			!strings.Contains(string(r.body), "not valid UTF-8") {
			t.Errorf("Latin-1 in a body: %d %s", r.status, r.body)
		}
		if r := s.do(t, "GET", "/api/v1/audit-events?actor=%00", s.as[admin], tokenMode, ""); r.status != 400 {
			t.Errorf("NUL in a query string: %d %s", r.status, r.body)
		}
		if r := s.do(t, "GET", "/api/v1/access-requests?q=%ff", s.as[admin], tokenMode, ""); r.status != 400 {
			t.Errorf("invalid UTF-8 in a query string: %d %s", r.status, r.body)
		}

		// Deactivating an account revokes its tokens at once.
		spare := s.as[backOffice]
		if r := s.do(t, "POST", "/api/v1/users/"+spare.user.ID+"/deactivate", s.as[admin], tokenMode, ""); r.status != 200 {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		if r := s.do(t, "GET", "/api/v1/me", spare, tokenMode, ""); r.status != 401 {
			t.Errorf("token of a deactivated account: %d", r.status)
		}
		if r := s.do(t, "GET", "/api/v1/me", spare, sessionMode, ""); r.status != 401 {
			t.Errorf("session of a deactivated account: %d", r.status)
		}
	})
}

// TestInternalErrorHidden breaks the database under a handler and checks the
// client gets a generic problem with a request ID while the log gets the
// cause under the same ID.
func TestInternalErrorHidden(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		// Loading the principal does not read organisations, so the request
		// is authenticated and fails inside the service.
		if _, err := db.Exec(context.Background(), `ALTER TABLE organisations RENAME TO organisations_gone`); err != nil {
			t.Fatal(err)
		}
		r := s.do(t, "GET", "/api/v1/organisations", s.as[admin], tokenMode, "")
		if r.status != 500 {
			t.Fatalf("status %d, want 500: %s", r.status, r.body)
		}
		rid := r.header.Get("X-Request-Id")
		checkJSON(t, r, map[string]any{"code": "internal", "request_id": rid, "detail": "Something went wrong on our side. Please try again."}, "500")
		for _, leak := range []string{"organisations", "SQL", "sql", "table", "relation"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("the problem leaks %q: %s", leak, r.body)
			}
		}
		logs := s.logs.String()
		if rid == "" || !strings.Contains(logs, "request_id="+rid) || !strings.Contains(logs, "organisations") {
			t.Errorf("log does not carry request %q and the cause:\n%s", rid, logs)
		}
	})
}

// TestNoDemoClock checks that outside demo mode the clock routes do not
// exist, in the mux, the route table or the document.
func TestNoDemoClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		for _, m := range []string{"GET", "POST"} {
			if r := s.do(t, m, "/api/v1/demo/clock", s.as[admin], tokenMode, `{"advance":"1h"}`); r.status != 404 {
				t.Errorf("%s /demo/clock outside demo mode: %d", m, r.status)
			}
		}
		for _, rt := range s.h.Routes() {
			if strings.Contains(rt.Path, "/demo/") {
				t.Errorf("route %s %s outside demo mode", rt.Method, rt.Path)
			}
		}
		checkOpenAPI(t, s, false)
	})
}
