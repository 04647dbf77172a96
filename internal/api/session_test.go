package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// TestSessionCSRF checks that the API works from a portal session, that
// every change from a session needs the CSRF token, and that tokens made
// through a session work and can be revoked.
func TestSessionCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		m := s.as[member]
		hdr := func(kv ...string) http.Header {
			h := http.Header{"Content-Type": {"application/json"}}
			for i := 0; i < len(kv); i += 2 {
				h.Set(kv[i], kv[i+1])
			}
			return h
		}
		body := `{"name":"laptop script"}`

		if r := s.doH(t, "POST", "/api/v1/tokens", m, sessionMode, body, hdr("X-CSRF-Token", "forged")); r.status != 403 {
			t.Errorf("wrong CSRF token: %d %s", r.status, r.body)
		}
		noCSRF := *m
		noCSRF.csrf = ""
		if r := s.do(t, "POST", "/api/v1/tokens", &noCSRF, sessionMode, body); r.status != 403 {
			t.Errorf("no CSRF token: %d %s", r.status, r.body)
		}
		if r := s.doH(t, "POST", "/api/v1/tokens", m, sessionMode, body, hdr("Origin", "https://evil.example")); r.status != 403 {
			t.Errorf("foreign Origin: %d %s", r.status, r.body)
		}
		if r := s.do(t, "DELETE", "/api/v1/tokens/x", &noCSRF, sessionMode, ""); r.status != 403 {
			t.Errorf("DELETE without CSRF token: %d %s", r.status, r.body)
		}

		r := s.do(t, "POST", "/api/v1/tokens", m, sessionMode, body)
		if r.status != 201 {
			t.Fatalf("create token from session: %d %s", r.status, r.body)
		}
		checkJSON(t, r, map[string]any{"secret": contains{"cgt_"}, "token.name": "laptop script", "token.revoked_at": nil}, "create token")
		secret, _ := r.json["secret"].(string)
		id, _ := jget(r.json, "token.id")
		if loc := r.header.Get("Location"); loc != "/api/v1/tokens/"+id.(string) {
			t.Errorf("Location %q", loc)
		}
		fresh := &caller{name: "fresh", user: m.user, token: secret}
		r = s.do(t, "GET", "/api/v1/me", fresh, tokenMode, "")
		checkJSON(t, r, map[string]any{"email": "member@nhs.net", "via_token": true, "csrf_token": absent{}}, "me with new token")

		// An empty body takes the default name.
		if r := s.do(t, "POST", "/api/v1/tokens", m, sessionMode, ""); r.status != 201 {
			t.Errorf("create token without body: %d %s", r.status, r.body)
		} else {
			checkJSON(t, r, map[string]any{"token.name": "API token"}, "default name")
		}
		if r := s.do(t, "POST", "/api/v1/tokens", m, sessionMode, `{"name":"`+strings.Repeat("x", 101)+`"}`); r.status != 400 {
			t.Errorf("long token name: %d", r.status)
		} else {
			checkJSON(t, r, map[string]any{"errors.0.field": "name"}, "long token name")
		}

		if r := s.do(t, "DELETE", "/api/v1/tokens/"+id.(string), m, sessionMode, ""); r.status != 204 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		r = s.do(t, "GET", "/api/v1/me", fresh, tokenMode, "")
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("revoked token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		r = s.do(t, "GET", "/api/v1/tokens", m, sessionMode, "")
		checkJSON(t, r, map[string]any{"items": length{3}, "items.1.name": "laptop script", "items.1.revoked_at": present{}}, "tokens after revoke")

		// A session part-way through sign-in is not signed in.
		token, _, err := s.users.SignIn(context.Background(), audit.Who{}, "spare@nhs.net", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		half := &caller{name: "half", user: s.spare, session: token}
		if r := s.do(t, "GET", "/api/v1/me", half, sessionMode, ""); r.status != 401 {
			t.Errorf("half-signed-in session: %d %s", r.status, r.body)
		}
		// A session cookie that is not a session is anonymous.
		if r := s.doH(t, "GET", "/api/v1/me", nil, sessionMode, "", http.Header{"Cookie": {httpauth.SessionCookie + "=nonsense"}}); r.status != 401 {
			t.Errorf("unknown session: %d", r.status)
		}
	})
}
