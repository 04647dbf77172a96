package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestAPITokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "api@nhs.net")
		v := e.user(t, "someone.else@nhs.net")

		secret, tok, err := e.svc.CreateToken(ctx, system, u.ID, "  Nightly sync  ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, auth.TokenPrefix) || len(secret) < len(auth.TokenPrefix)+40 {
			t.Fatalf("secret %q", secret)
		}
		if tok.Name != "Nightly sync" || tok.UserID != u.ID || !tok.CreatedAt.Equal(t0) {
			t.Fatalf("token %+v", tok)
		}
		var n int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE token_hash = ?`, secret).Scan(&n)
		if n != 0 {
			t.Fatal("the token secret is stored in clear")
		}

		got, err := e.svc.AuthenticateToken(ctx, secret)
		if err != nil || got.ID != u.ID || got.Email != u.Email {
			t.Fatalf("AuthenticateToken = %+v, %v", got, err)
		}
		for _, bad := range []string{"", "cgt_", strings.TrimPrefix(secret, auth.TokenPrefix), secret + "x", "Bearer " + secret} {
			if _, err := e.svc.AuthenticateToken(ctx, bad); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("AuthenticateToken(%q) error %v", bad, err)
			}
		}

		// Last use is recorded at most once a minute.
		lastUsed := func() time.Time {
			t.Helper()
			ts, err := e.svc.Tokens(ctx, u.ID)
			if err != nil || len(ts) == 0 || ts[len(ts)-1].LastUsedAt == nil {
				t.Fatalf("Tokens = %+v, %v", ts, err)
			}
			return *ts[len(ts)-1].LastUsedAt
		}
		if !lastUsed().Equal(t0) {
			t.Fatalf("last used %v", lastUsed())
		}
		e.clock.Advance(30 * time.Second)
		e.svc.AuthenticateToken(ctx, secret)
		if !lastUsed().Equal(t0) {
			t.Fatalf("last used rewritten within a minute: %v", lastUsed())
		}
		e.clock.Advance(31 * time.Second)
		e.svc.AuthenticateToken(ctx, secret)
		if !lastUsed().Equal(t0.Add(61 * time.Second)) {
			t.Fatalf("last used not refreshed: %v", lastUsed())
		}

		// Listing is newest first; an empty name gets a default.
		e.clock.Advance(time.Hour)
		_, second, err := e.svc.CreateToken(ctx, system, u.ID, "")
		if err != nil || second.Name != "API token" {
			t.Fatalf("default name: %+v, %v", second, err)
		}
		ts, _ := e.svc.Tokens(ctx, u.ID)
		if len(ts) != 2 || ts[0].ID != second.ID || ts[1].ID != tok.ID || ts[0].LastUsedAt != nil || ts[0].RevokedAt != nil {
			t.Fatalf("Tokens = %+v", ts)
		}
		if other, _ := e.svc.Tokens(ctx, v.ID); len(other) != 0 {
			t.Fatalf("another user's tokens listed: %+v", other)
		}

		// Only the owner's token can be revoked, once.
		wantCode(t, e.svc.RevokeToken(ctx, system, v.ID, tok.ID), errs.NotFound)
		if _, err := e.svc.AuthenticateToken(ctx, secret); err != nil {
			t.Fatalf("revoking as someone else had an effect: %v", err)
		}
		if err := e.svc.RevokeToken(ctx, system, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.AuthenticateToken(ctx, secret)
		wantCode(t, err, errs.Unauthenticated)
		wantCode(t, e.svc.RevokeToken(ctx, system, u.ID, tok.ID), errs.NotFound)
		ts, _ = e.svc.Tokens(ctx, u.ID)
		if ts[1].RevokedAt == nil || !ts[1].RevokedAt.Equal(e.clock.Now()) {
			t.Fatalf("revoked token listed as %+v", ts[1])
		}

		var actions []string
		for _, ev := range events(t, db, audit.Filter{Action: "token."}) {
			actions = append(actions, ev.Action+":"+ev.ObjectID)
		}
		if strings.Join(actions, " ") != "token.create:"+tok.ID+" token.create:"+second.ID+" token.revoke:"+tok.ID {
			t.Fatalf("token audit %v", actions)
		}
		verifyAudit(t, db)
	})
}

func TestCreateTokenValidation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "api@nhs.net")
		for _, name := range []string{strings.Repeat("x", 101), "<b>token</b>", "line\nbreak"} {
			_, _, err := e.svc.CreateToken(ctx, system, u.ID, name)
			wantField(t, err, "name")
		}
		if _, _, err := e.svc.CreateToken(ctx, system, u.ID, strings.Repeat("é", 100)); err != nil {
			t.Fatalf("100-character name refused: %v", err)
		}
		_, _, err := e.svc.CreateToken(ctx, system, "no-such-user", "x")
		wantCode(t, err, errs.NotFound)
		if ts, _ := e.svc.Tokens(ctx, u.ID); len(ts) != 1 {
			t.Fatalf("%d tokens, want only the valid one", len(ts))
		}
	})
}

func TestSetupLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "first.admin@nhs.net", GivenName: "Robin", FamilyName: "Hood",
			Roles: []string{auth.RoleAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		// No password yet: signing in is impossible.
		_, _, err = e.svc.SignIn(ctx, browser, u.Email, "")
		wantCode(t, err, errs.Unauthenticated)

		link, err := e.svc.CreateSetupLink(ctx, system, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(link) < 40 {
			t.Fatalf("set-up token %q is too short to be unguessable", link)
		}
		got, err := e.svc.SetupUser(ctx, link)
		if err != nil || got.ID != u.ID {
			t.Fatalf("SetupUser = %+v, %v", got, err)
		}
		_, err = e.svc.SetupUser(ctx, "not-a-link")
		wantCode(t, err, errs.NotFound)

		// A weak password is refused and the link stays usable.
		_, err = e.svc.CompleteSetup(ctx, browser, link, "robinhood-forest")
		if m := wantField(t, err, "password"); !strings.Contains(m, "name") {
			t.Fatalf("weak-password message %q", m)
		}
		if _, err := e.svc.SetupUser(ctx, link); err != nil {
			t.Fatalf("link used up by a refused password: %v", err)
		}

		done, err := e.svc.CompleteSetup(ctx, browser, link, goodPassword)
		if err != nil || done.ID != u.ID {
			t.Fatalf("CompleteSetup = %+v, %v", done, err)
		}
		e.signIn(t, u.Email, auth.StateEnrol)

		// Single use.
		_, err = e.svc.SetupUser(ctx, link)
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.CompleteSetup(ctx, browser, link, "another long passphrase")
		wantCode(t, err, errs.NotFound)
		if _, _, err := e.svc.SignIn(ctx, browser, u.Email, "another long passphrase"); err == nil {
			t.Fatal("a used link changed the password")
		}

		evs := events(t, db, audit.Filter{Action: "user.setup"})
		if len(evs) != 1 || evs[0].ActorID != u.ID || evs[0].Actor != u.Email || evs[0].IP != browser.IP {
			t.Fatalf("set-up audit %+v", evs)
		}
		if evs := events(t, db, audit.Filter{Action: "user.setup_link", ObjectID: u.ID}); len(evs) != 1 {
			t.Fatalf("set-up link audit %+v", evs)
		}
		verifyAudit(t, db)
	})
}

func TestSetupLinkExpiresAfter24Hours(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u, _ := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "late@nhs.net", GivenName: "Late", FamilyName: "Comer"})
		link, err := e.svc.CreateSetupLink(ctx, system, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(24*time.Hour - time.Second)
		if _, err := e.svc.SetupUser(ctx, link); err != nil {
			t.Fatalf("link expired early: %v", err)
		}
		e.clock.Advance(time.Second)
		_, err = e.svc.SetupUser(ctx, link)
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.CompleteSetup(ctx, browser, link, goodPassword)
		wantCode(t, err, errs.NotFound)
		// A new link works.
		fresh, _ := e.svc.CreateSetupLink(ctx, system, u.ID)
		if _, err := e.svc.CompleteSetup(ctx, browser, fresh, goodPassword); err != nil {
			t.Fatal(err)
		}
		e.signIn(t, u.Email, auth.StateEnrol)
	})
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "cli@nhs.net")
		wantField(t, e.svc.SetPassword(ctx, system, u.ID, "123456789012"), "password")
		wantCode(t, e.svc.SetPassword(ctx, system, "nobody", goodPassword), errs.NotFound)
		if err := e.svc.SetPassword(ctx, system, u.ID, "set from the command line"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.SignIn(ctx, browser, u.Email, "set from the command line"); err != nil {
			t.Fatal(err)
		}
		if evs := events(t, db, audit.Filter{Action: "auth.password.set"}); len(evs) != 1 {
			t.Fatalf("audit %+v", evs)
		}
	})
}
