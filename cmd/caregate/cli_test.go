package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
)

func TestVersion(t *testing.T) {
	r := cli(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "caregate "+app.Version+" (go") {
		t.Fatalf("version: %s", r)
	}
}

func TestUsage(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{nil, 2, "Usage: caregate COMMAND"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"user"}, 2, `unknown command "user"`},
		{[]string{"user", "delete"}, 2, `unknown command "user delete"`},
		{[]string{"token", "list"}, 2, `unknown command "token list"`},
		{[]string{"audit"}, 2, `unknown command "audit"`},
		{[]string{"migrate", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"migrate", "extra"}, 2, "Usage of caregate migrate"},
		{[]string{"serve", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"token", "create"}, 2, "--user is required"},
		{[]string{"user", "create-admin"}, 2, "--email is required"},
		{[]string{"serve", "--database-url", "mysql://root:hunter2@db/caregate"}, 1, "--database-url must be a postgres:// URL"},
		{[]string{"migrate", "--database-url", "mysql://x"}, 1, "--database-url must be a postgres:// URL"},
		{[]string{"serve", "--addr", "localhost", "--data", "unused"}, 1, "--addr must be HOST:PORT"},
		{[]string{"serve", "--base-url", "caregate.example", "--data", "unused"}, 1, "base URL must be like https://"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cli(t, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit %d and %q in stderr; got %s", tc.code, tc.want, r)
			}
			if strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Fatalf("a database password was printed: %s", r)
			}
		})
	}
	if r := cli(t, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "audit verify") {
		t.Fatalf("help: %s", r)
	}
}

func TestMigrate(t *testing.T) {
	applied := regexp.MustCompile(`applied (\d+) migrations; schema version (\d+)`)
	eachEngine(t, func(t *testing.T, cfg app.Config) {
		first := mustCLI(t, cfg, "", "migrate")
		m := applied.FindStringSubmatch(first.stdout)
		if m == nil || m[1] == "0" || m[2] == "0" {
			t.Fatalf("first migrate: %s", first)
		}
		again := mustCLI(t, cfg, "", "migrate")
		m2 := applied.FindStringSubmatch(again.stdout)
		if m2 == nil || m2[1] != "0" || m2[2] != m[2] {
			t.Fatalf("second migrate applied something or changed the version (%v then %v): %s", m, m2, again)
		}
		if r := mustCLI(t, cfg, "", "audit", "verify"); r.lastLine() != "ok: 0 events" {
			t.Fatalf("verify on an empty database: %s", r)
		}
	})
}

func TestCreateAdmin(t *testing.T) {
	eachEngine(t, func(t *testing.T, cfg app.Config) {
		const email = "ada.admin@nhs.net"
		cases := []struct {
			name  string
			args  []string
			stdin string
			code  int
			want  string // in stderr
		}{
			{"missing email", nil, strongPassword + "\n", 2, "--email is required"},
			{"empty stdin", []string{"--email", email}, "", 1, "holds no password"},
			{"blank line", []string{"--email", email}, "\n", 1, "holds no password"},
			{"too short", []string{"--email", email}, "Short-1\n", 1, "at least 12 characters"},
			{"common", []string{"--email", email}, "password1234\n", 1, "too common"},
			{"own name", []string{"--email", email}, "ada.admin-2026-x\n", 1, "must not contain your name or e-mail"},
			{"bad e-mail", []string{"--email", "not-an-address"}, strongPassword + "\n", 1, "--email"},
		}
		for _, tc := range cases {
			r := cliOn(t, cfg, tc.stdin, append([]string{"user", "create-admin"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("%s: want exit %d and %q; got %s", tc.name, tc.code, tc.want, r)
			}
		}

		db := openDB(t, cfg)
		l, users, _ := app.Services(db, nil, auth.Config{})
		defer l.Close()
		ctx := context.Background()
		if n, err := users.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("refused attempts created %d accounts (%v)", n, err)
		}

		r := mustCLI(t, cfg, strongPassword+"\r\n", "user", "create-admin", "--email", email)
		if !strings.Contains(r.stdout, "Created administrator "+email) || strings.Contains(r.stdout, strongPassword) {
			t.Fatalf("create-admin: %s", r)
		}
		u, err := users.UserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if !u.HasRole(auth.RoleAdmin) {
			t.Fatalf("roles %v, want admin", u.Roles)
		}
		// The password (without the line ending) signs in, and MFA
		// enrolment comes next.
		_, sess, err := users.SignIn(ctx, audit.Who{IP: "192.0.2.1"}, email, strongPassword)
		if err != nil {
			t.Fatalf("sign in with the piped password: %v", err)
		}
		if sess.State != auth.StateEnrol {
			t.Fatalf("session state %q, want %q", sess.State, auth.StateEnrol)
		}

		dup := cliOn(t, cfg, "another-Strong-pass-77\n", "user", "create-admin", "--email", strings.ToUpper(email))
		if dup.code != 1 || !strings.Contains(dup.stderr, "already") {
			t.Fatalf("duplicate: %s", dup)
		}
		if n, _ := users.CountUsers(ctx); n != 1 {
			t.Fatalf("%d accounts after a duplicate, want 1", n)
		}
	})
}

func TestTokenCreate(t *testing.T) {
	eachEngine(t, func(t *testing.T, cfg app.Config) {
		const email = "tess.token@nhs.net"
		mustCLI(t, cfg, strongPassword+"\n", "user", "create-admin", "--email", email)

		r := mustCLI(t, cfg, "", "token", "create", "--user", email, "--name", "nightly export")
		token := r.lastLine()
		if !strings.HasPrefix(token, auth.TokenPrefix) || strings.ContainsAny(token, " \t") {
			t.Fatalf("last line is not the token alone: %s", r)
		}
		if !strings.Contains(r.stdout, `"nightly export"`) {
			t.Fatalf("the token's name is not reported: %s", r)
		}
		other := mustCLI(t, cfg, "", "token", "create", "--user", email).lastLine()
		if other == token || !strings.HasPrefix(other, auth.TokenPrefix) {
			t.Fatalf("second token %q (first %q)", other, token)
		}

		if r := cliOn(t, cfg, "", "token", "create", "--user", "nobody@nhs.net"); r.code != 1 || r.stderr == "" {
			t.Fatalf("unknown user: %s", r)
		}

		// The token works against the real server on the same database.
		cfg.Addr = "127.0.0.1:0"
		a, err := app.New(context.Background(), cfg, app.Options{Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		srv := httptest.NewServer(a.Handler())
		defer srv.Close()
		me := func(bearer string) (int, string) {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+bearer)
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct {
				Email    string `json:"email"`
				ViaToken bool   `json:"via_token"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			return res.StatusCode, body.Email
		}
		for _, tok := range []string{token, other} {
			if code, got := me(tok); code != http.StatusOK || got != email {
				t.Fatalf("GET /api/v1/me with the printed token: %d %q", code, got)
			}
		}
		if code, _ := me(token + "x"); code != http.StatusUnauthorized {
			t.Fatalf("GET /api/v1/me with a wrong token: %d, want 401", code)
		}
	})
}
