package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/httpauth"
)

// TestLogHasNoSecrets drives every way a secret reaches the server — a
// password, a one-time set-up link, a session cookie, an API token, CSRF
// tokens — and checks that none of them appears in the JSON log.
func TestLogHasNoSecrets(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg app.Config) {
		logs := &syncBuffer{}
		log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		a, srv := start(t, cfg, app.Options{Log: log})
		ctx := context.Background()
		const wrongPassword = "not-my-Password-93-quartz"
		secrets := map[string]string{"password": testPassword, "wrong password": wrongPassword, "TOTP secret": testSecret}

		addUser(t, a, "sam.secret@nhs.net", testSecret, auth.RoleAdmin)

		// A failed and a successful sign-in with MFA.
		b := newBrowser(t)
		form := b.get(srv.URL + "/signin")
		secrets["anonymous cookie"] = b.cookies[httpauth.AnonCookie]
		secrets["anonymous CSRF token"] = form.csrf(t)
		res := b.post(srv.URL+"/signin?email=sam.secret%40nhs.net", url.Values{"csrf_token": {form.csrf(t)},
			"email": {"sam.secret@nhs.net"}, "password": {wrongPassword}})
		if res.status == http.StatusSeeOther {
			t.Fatal("a wrong password signed in")
		}
		session := b.signIn(srv.URL, srv.URL, "sam.secret@nhs.net", testSecret)
		secrets["session cookie"] = session
		account := b.get(srv.URL + "/account")
		if account.status != http.StatusOK {
			t.Fatalf("GET /account = %d", account.status)
		}
		secrets["session CSRF token"] = account.csrf(t)

		// A password change through the portal, with the old and new password.
		const newPassword = "granite-Willow-71-harbour"
		secrets["new password"] = newPassword
		if res := b.post(srv.URL+"/account/password", url.Values{"csrf_token": {account.csrf(t)}, "current_password": {testPassword},
			"password": {newPassword}, "password_confirm": {newPassword}}); res.status != http.StatusSeeOther {
			t.Fatalf("POST /account/password = %d:\n%.1000s", res.status, res.body)
		}

		// A one-time set-up link opened, posted to with a mismatch and then
		// used, plus a guessed one.
		newcomer, err := a.Users.CreateUser(ctx, audit.System, auth.NewUser{Email: "nia.new@nhs.net", GivenName: "Nia", FamilyName: "New"})
		if err != nil {
			t.Fatal(err)
		}
		setup, err := a.Users.CreateSetupLink(ctx, audit.System, newcomer.ID)
		if err != nil {
			t.Fatal(err)
		}
		secrets["set-up token"] = setup
		anon := newBrowser(t)
		page := anon.get(srv.URL + "/setup/" + setup)
		if page.status != http.StatusOK {
			t.Fatalf("GET /setup/{token} = %d", page.status)
		}
		const setupPassword = "pebble-Canyon-64-orchard"
		secrets["set-up password"] = setupPassword
		if res := anon.post(srv.URL+"/setup/"+setup, url.Values{"csrf_token": {page.csrf(t)}, "password": {setupPassword},
			"password_confirm": {setupPassword + "x"}}); res.status != http.StatusBadRequest {
			t.Fatalf("POST /setup/{token} with a mismatch = %d", res.status)
		}
		if res := anon.post(srv.URL+"/setup/"+setup, url.Values{"csrf_token": {page.csrf(t)}, "password": {setupPassword},
			"password_confirm": {setupPassword}}); res.status != http.StatusSeeOther {
			t.Fatalf("POST /setup/{token} = %d:\n%.1000s", res.status, res.body)
		}
		if res := anon.get(srv.URL + "/setup/" + setup + "Q"); res.status != http.StatusNotFound {
			t.Fatalf("GET /setup/{wrong token} = %d, want 404", res.status)
		}

		// The API with a good and a bad bearer token.
		u, _ := a.Users.UserByEmail(ctx, "sam.secret@nhs.net")
		token, _, err := a.Users.CreateToken(ctx, audit.System, u.ID, "log test")
		if err != nil {
			t.Fatal(err)
		}
		secrets["API token"] = token
		api := newBrowser(t)
		api.header.Set("Authorization", "Bearer "+token)
		if res := api.get(srv.URL + "/api/v1/me"); res.status != http.StatusOK {
			t.Fatalf("GET /api/v1/me = %d", res.status)
		}
		api.header.Set("Authorization", "Bearer "+token+"0")
		if res := api.get(srv.URL + "/api/v1/me?token=" + url.QueryEscape(token)); res.status != http.StatusUnauthorized {
			t.Fatalf("GET /api/v1/me with a wrong token = %d", res.status)
		}

		// Sign out, so that the session ends with a logged request too.
		if res := b.post(srv.URL+"/signout", url.Values{"csrf_token": {account.csrf(t)}}); res.status != http.StatusSeeOther {
			t.Fatalf("POST /signout = %d", res.status)
		}

		out := logs.String()
		for what, s := range secrets {
			if s == "" {
				t.Fatalf("test setup: no %s captured", what)
			}
			if strings.Contains(out, s) {
				t.Errorf("the log contains the %s", what)
			}
		}
		// The log did record the requests, by route and with request IDs.
		routes := map[string]bool{}
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var rec struct {
				Msg       string `json:"msg"`
				Route     string `json:"route"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("a log line is not JSON: %q", line)
			}
			if rec.Msg == "request" {
				if rec.RequestID == "" {
					t.Errorf("a request is logged without its ID: %s", line)
				}
				routes[rec.Route] = true
			}
		}
		for _, want := range []string{"GET /signin", "POST /signin", "POST /signin/mfa", "GET /setup/{token}", "POST /setup/{token}",
			"GET /api/v1/me", "POST /signout"} {
			if !routes[want] {
				t.Errorf("no request logged for %s (logged: %v)", want, routes)
			}
		}
	})
}
