package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/httpauth"
)

// A server remembers the callers it identified (httpauth.RememberFor), by
// session and by API token; a withdrawn role, a sign-out and a revoked token
// must still take effect on the very next request, on each engine (the
// cluster test proves it across two servers on PostgreSQL only).
func TestRememberedCallerLosesAccessAtOnce(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg app.Config) {
		ctx := context.Background()
		a, srv := start(t, cfg, app.Options{})
		addUser(t, a, "ada.admin@nhs.net", "", auth.RoleAdmin) // so that boss is not the last administrator
		boss := addUser(t, a, "bob.boss@nhs.net", testSecret, auth.RoleAdmin)
		token, tok, err := a.Users.CreateToken(ctx, audit.System, boss.ID, "remembered")
		if err != nil {
			t.Fatal(err)
		}
		br := newBrowser(t)
		session := br.signIn(srv.URL, srv.URL, boss.Email, testSecret)

		byToken := func(path string) int { return bearerStatus(t, srv.URL+path, token) }
		byCookie := func(path string) int {
			br.cookies[httpauth.SessionCookie] = session // kept even once the server clears it
			return br.get(srv.URL + path).status
		}
		for range 3 { // identified once, then remembered
			if got := byToken("/api/v1/users"); got != http.StatusOK {
				t.Fatalf("GET /api/v1/users by token as an administrator = %d", got)
			}
			if got := byCookie("/api/v1/users"); got != http.StatusOK {
				t.Fatalf("GET /api/v1/users by session as an administrator = %d", got)
			}
		}

		if err := a.Users.SetRoles(ctx, audit.System, boss.ID, nil); err != nil {
			t.Fatal(err)
		}
		if got := byToken("/api/v1/users"); got != http.StatusForbidden {
			t.Errorf("GET /api/v1/users by token after the role was withdrawn = %d, want 403", got)
		}
		if got := byCookie("/api/v1/users"); got != http.StatusForbidden {
			t.Errorf("GET /api/v1/users by session after the role was withdrawn = %d, want 403", got)
		}
		for range 2 {
			if got := byToken("/api/v1/me"); got != http.StatusOK {
				t.Fatalf("GET /api/v1/me by token = %d", got)
			}
			if got := byCookie("/api/v1/me"); got != http.StatusOK {
				t.Fatalf("GET /api/v1/me by session = %d", got)
			}
		}

		if err := a.Users.SignOut(ctx, audit.System, session); err != nil {
			t.Fatal(err)
		}
		if got := byCookie("/api/v1/me"); got != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/me by session after sign-out = %d, want 401", got)
		}
		if err := a.Users.RevokeToken(ctx, audit.System, boss.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if got := byToken("/api/v1/me"); got != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/me by token after it was revoked = %d, want 401", got)
		}
	})
}

// bearerStatus is the status of a GET of u with the API token.
func bearerStatus(t *testing.T, u, token string) int {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
