package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store/storetest"
)

// TestTwoServersOnePostgres runs two CareGate instances on one PostgreSQL
// database, as behind a load balancer: sessions, CSRF tokens, sign-out,
// lock-out and the audit chain must all hold across them. Under CI it fails
// when CAREGATE_TEST_POSTGRES is not set.
func TestTwoServersOnePostgres(t *testing.T) {
	base := storetest.PostgresURL(t)
	if base == "" {
		t.Skip("CAREGATE_TEST_POSTGRES is not set")
	}
	cfg := app.Config{DatabaseURL: storetest.NewSchema(t, base), Addr: "127.0.0.1:0"}

	// One after the other: starting both at once on an empty schema is
	// TestConcurrentStartOnePostgres.
	var apps [2]*app.App
	for i := range apps {
		a, err := app.New(context.Background(), cfg, app.Options{Auth: cheapHash, Log: quiet})
		if err != nil {
			t.Fatalf("server %c: %v", 'A'+i, err)
		}
		t.Cleanup(a.Close)
		apps[i] = a
	}
	a, b := apps[0], apps[1]
	srvA, srvB := serveApp(t, a), serveApp(t, b)
	ctx := context.Background()

	admin := addUser(t, a, "alex.admin@nhs.net", testSecret, auth.RoleAdmin)

	t.Run("session and CSRF across servers", func(t *testing.T) {
		br := newBrowser(t)
		// Password on A, code on B: the half-done session lives in the database.
		session := br.signIn(srvA.URL, srvB.URL, admin.Email, testSecret)

		onA := br.get(srvA.URL + "/account")
		onB := br.get(srvB.URL + "/account")
		for name, res := range map[string]response{"A": onA, "B": onB} {
			if res.status != http.StatusOK || !strings.Contains(res.body, admin.Email) {
				t.Fatalf("GET /account on %s = %d", name, res.status)
			}
		}
		tokenA := onA.csrf(t)
		if tokenB := onB.csrf(t); tokenB != tokenA {
			t.Fatalf("the servers issue different CSRF tokens for one session (%s, %s): the key is not shared", tokenA, tokenB)
		}

		// A form served by A and posted to B is accepted; a forged one is not.
		if res := br.post(srvB.URL+"/account/tokens", url.Values{"csrf_token": {tokenA}, "name": {"posted to B"}}); res.status != http.StatusOK ||
			!strings.Contains(res.body, auth.TokenPrefix) {
			t.Fatalf("POST /account/tokens on B with A's CSRF token = %d:\n%.1000s", res.status, res.body)
		}
		if res := br.post(srvB.URL+"/account/tokens", url.Values{"csrf_token": {strings.Repeat("0", len(tokenA))}, "name": {"forged"}}); res.status != http.StatusForbidden {
			t.Fatalf("POST /account/tokens on B with a forged CSRF token = %d, want 403", res.status)
		}
		ts, err := a.Users.Tokens(ctx, admin.ID)
		if err != nil || len(ts) != 1 || ts[0].Name != "posted to B" {
			t.Fatalf("tokens after the posts: %+v, %v", ts, err)
		}

		// Sign out on B; A no longer knows the session.
		if res := br.post(srvB.URL+"/signout", url.Values{"csrf_token": {tokenA}}); res.status != http.StatusSeeOther || res.location() != "/signin" {
			t.Fatalf("POST /signout on B = %d to %q", res.status, res.location())
		}
		if _, ok := br.cookies[httpauth.SessionCookie]; ok {
			t.Fatal("sign-out did not clear the session cookie")
		}
		br.cookies[httpauth.SessionCookie] = session // a copy kept by an attacker
		if res := br.get(srvA.URL + "/account"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/signin") {
			t.Fatalf("GET /account on A after sign-out on B = %d to %q, want a redirect to /signin", res.status, res.location())
		}
		if res := br.get(srvA.URL + "/api/v1/me"); res.status != http.StatusUnauthorized {
			t.Fatalf("GET /api/v1/me on A after sign-out on B = %d, want 401", res.status)
		}
	})

	// Each server remembers the callers it identified (httpauth.RememberFor);
	// a change made through the other server must still take effect at
	// once, through the database's auth_generation count.
	t.Run("revocations reach the other server at once", func(t *testing.T) {
		boss := addUser(t, a, "rita.roles@nhs.net", "", auth.RoleAdmin)
		token, tok, err := a.Users.CreateToken(ctx, audit.System, boss.ID, "remembered")
		if err != nil {
			t.Fatal(err)
		}
		call := func(srv, path string) int { return bearerStatus(t, srv+path, token) }
		for range 3 { // identified once, then remembered
			if got := call(srvA.URL, "/api/v1/users"); got != http.StatusOK {
				t.Fatalf("GET /api/v1/users on A as an administrator = %d", got)
			}
		}
		if err := b.Users.SetRoles(ctx, audit.System, boss.ID, nil); err != nil {
			t.Fatal(err)
		}
		if got := call(srvA.URL, "/api/v1/users"); got != http.StatusForbidden {
			t.Fatalf("GET /api/v1/users on A after B withdrew the role = %d, want 403", got)
		}
		if got := call(srvA.URL, "/api/v1/me"); got != http.StatusOK {
			t.Fatalf("GET /api/v1/me on A = %d", got)
		}
		if err := b.Users.RevokeToken(ctx, audit.System, boss.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if got := call(srvA.URL, "/api/v1/me"); got != http.StatusUnauthorized {
			t.Fatalf("GET /api/v1/me on A after B revoked the token = %d, want 401", got)
		}
	})

	t.Run("lock-out across servers", func(t *testing.T) {
		victim := addUser(t, b, "vic.locked@nhs.net", testSecret)
		br := newBrowser(t)
		csrf := br.get(srvA.URL + "/signin").csrf(t) // signed-out forms are bound to a cookie, not a server
		try := func(srv, password string) response {
			return br.post(srv+"/signin", url.Values{"csrf_token": {csrf}, "email": {victim.Email}, "password": {password}})
		}
		max := a.Users.Config().MaxFailures
		for i := range max {
			srv := []string{srvA.URL, srvB.URL}[i%2]
			if res := try(srv, fmt.Sprintf("wrong-Password-%02d-xyz", i)); res.status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d = %d, want 401:\n%.1000s", i+1, res.status, res.body)
			}
		}
		for name, srv := range map[string]string{"A": srvA.URL, "B": srvB.URL} {
			res := try(srv, testPassword)
			if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "temporarily locked") {
				t.Fatalf("the right password on %s after %d failures = %d, want 429 locked:\n%.1000s", name, max, res.status, res.body)
			}
		}
		var lockouts int
		if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'auth.lockout' AND object_id = ?`, victim.ID).Scan(&lockouts); err != nil {
			t.Fatal(err)
		}
		if lockouts != 1 {
			t.Fatalf("%d lock-out events, want 1", lockouts)
		}
	})

	t.Run("concurrent audited writes", func(t *testing.T) {
		p, err := authz.Load(ctx, a.DB, admin)
		if err != nil {
			t.Fatal(err)
		}
		ods, name, routing := "RZ901", "Chain Test Trust", org.RoutingServiceDesk
		o, err := a.Orgs.CreateOrganisation(ctx, p, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing})
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := b.Users.CreateToken(ctx, audit.System, admin.ID, "load")
		if err != nil {
			t.Fatal(err)
		}
		before, err := audit.Verify(ctx, a.DB)
		if err != nil {
			t.Fatal(err)
		}

		const requests, appends = 200, 200
		sem := make(chan struct{}, 24)
		failures := make(chan string, requests+appends)
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				srv := []string{srvA.URL, srvB.URL}[i%2]
				req, _ := http.NewRequest("POST", srv+"/api/v1/organisations/"+o.ID+"/sites",
					strings.NewReader(fmt.Sprintf(`{"name": "Ward %03d"}`, i)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					failures <- err.Error()
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					failures <- fmt.Sprintf("site %d: status %d", i, res.StatusCode)
				}
			})
		}
		for i := range appends {
			wg.Go(func() {
				l := []*audit.Log{a.Audit, b.Audit}[i%2]
				if err := l.Append(ctx, audit.New(audit.System, "test.append", "test", fmt.Sprint(i), audit.Success, nil)); err != nil {
					failures <- err.Error()
				}
			})
		}
		wg.Wait()
		close(failures)
		for f := range failures {
			t.Error(f)
		}
		if t.Failed() {
			t.FailNow()
		}

		for name, x := range map[string]*app.App{"A": a, "B": b} {
			n, err := audit.Verify(ctx, x.DB)
			if err != nil {
				t.Fatalf("verify from %s: %v", name, err)
			}
			if n != before+requests+appends {
				t.Fatalf("verify from %s: %d events, want %d + %d", name, n, before, requests+appends)
			}
		}
		var sites int
		if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'site.create'`).Scan(&sites); err != nil {
			t.Fatal(err)
		}
		if sites != requests {
			t.Fatalf("%d site.create events, want %d", sites, requests)
		}
	})
}

// TestConcurrentStartOnePostgres starts several instances at once on an
// empty PostgreSQL schema, as a deployment of several replicas does: the
// migrations and the shared CSRF key must cope with the race, and every
// instance must end with the same key.
func TestConcurrentStartOnePostgres(t *testing.T) {
	base := storetest.PostgresURL(t)
	if base == "" {
		t.Skip("CAREGATE_TEST_POSTGRES is not set")
	}
	for round := range 3 {
		cfg := app.Config{DatabaseURL: storetest.NewSchema(t, base), Addr: "127.0.0.1:0"}
		var (
			apps [3]*app.App
			errs [3]error
			wg   sync.WaitGroup
		)
		for i := range apps {
			wg.Go(func() {
				apps[i], errs[i] = app.New(context.Background(), cfg, app.Options{Auth: cheapHash, Log: quiet})
			})
		}
		wg.Wait()
		for i, a := range apps {
			if a != nil {
				t.Cleanup(a.Close)
			}
			if errs[i] != nil {
				t.Errorf("round %d: instance %d of %d failed to start: %v", round, i+1, len(apps), errs[i])
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		var keys int
		if err := apps[0].DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM settings WHERE key = 'csrf_key'`).Scan(&keys); err != nil || keys != 1 {
			t.Fatalf("round %d: %d CSRF keys (%v)", round, keys, err)
		}
	}
}

// serveApp serves a over HTTP until the test ends.
func serveApp(t *testing.T, a *app.App) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}
