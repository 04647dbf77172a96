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

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := newEnv(t, db, auth.Config{}).svc.Config()
		if c.IdleTimeout != 30*time.Minute || c.AbsoluteLifetime != 12*time.Hour || c.MaxFailures != 5 ||
			c.LockoutFor != 15*time.Minute || c.IPFailures != 50 || c.IPWindow != 15*time.Minute ||
			c.SetupLinkFor != 24*time.Hour || c.Issuer != "CareGate" {
			t.Fatalf("defaults %+v", c)
		}
		if c.Hash != cheap {
			t.Fatalf("configured hash parameters replaced by %+v", c.Hash)
		}
		if d := auth.NewService(db, nil, nil, auth.Config{Hash: cheap, MaxFailures: 3}).Config(); d.MaxFailures != 3 || d.IdleTimeout != 30*time.Minute {
			t.Fatalf("explicit setting lost or default missing: %+v", d)
		}
	})
}

func TestSignInStates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "nurse@nhs.net")

		// A new account has no authenticator yet: enrolment comes next.
		_, sess := e.signIn(t, "  NURSE@nhs.net ", auth.StateEnrol)
		if sess.UserID != u.ID || !sess.CreatedAt.Equal(t0) || !sess.ExpiresAt.Equal(t0.Add(12*time.Hour)) {
			t.Fatalf("session %+v", sess)
		}
		e.enrol(t, u)
		// Once enrolled, a code is asked for.
		e.signIn(t, u.Email, auth.StateMFA)

		// A one-time password must be changed first, whatever the MFA state.
		if _, err := db.Exec(ctx, `UPDATE users SET must_change_password = 1 WHERE id = ?`, u.ID); err != nil {
			t.Fatal(err)
		}
		e.signIn(t, u.Email, auth.StatePassword)

		evs := events(t, db, audit.Filter{Action: "auth.password", ObjectID: u.ID})
		var next []string
		for _, ev := range evs {
			if ev.Outcome != audit.Success || ev.IP != browser.IP || ev.Actor != u.Email || ev.ActorID != u.ID {
				t.Fatalf("sign-in audit %+v", ev)
			}
			next = append(next, ev.Detail["next"])
		}
		if strings.Join(next, ",") != "mfa_enrol,mfa_enrol,mfa,password" {
			t.Fatalf("audited next states %v", next)
		}
		verifyAudit(t, db)
	})
}

func TestSignInFailuresLookAlike(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "gp@nhs.net")
		noPassword, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "new@nhs.net", GivenName: "New", FamilyName: "Person"})
		if err != nil {
			t.Fatal(err)
		}

		_, _, errUnknown := e.svc.SignIn(ctx, attacker, "nobody@nhs.net", goodPassword)
		_, _, errWrong := e.svc.SignIn(ctx, attacker, u.Email, "not the password at all")
		_, _, errUnset := e.svc.SignIn(ctx, attacker, noPassword.Email, "")
		_, _, errMalformed := e.svc.SignIn(ctx, attacker, "not an e-mail", goodPassword)
		first := wantCode(t, errUnknown, errs.Unauthenticated)
		for _, err := range []error{errWrong, errUnset, errMalformed} {
			got := wantCode(t, err, errs.Unauthenticated)
			if got.Message != first.Message {
				t.Fatalf("failure messages differ: %q vs %q", got.Message, first.Message)
			}
		}
		if strings.Contains(strings.ToLower(first.Message), "no account") {
			t.Fatalf("message reveals whether the account exists: %q", first.Message)
		}

		// Each failure is audited, with the reason kept for investigators.
		evs := events(t, db, audit.Filter{Action: "auth.signin"})
		if len(evs) != 4 {
			t.Fatalf("want 4 audited failures, got %+v", evs)
		}
		wantReasons := []string{"unknown account", "wrong password", "wrong password", "unknown account"}
		for i, ev := range evs {
			if ev.Outcome != audit.Failure || ev.IP != attacker.IP || ev.Detail["reason"] != wantReasons[i] {
				t.Fatalf("event %d: %+v", i, ev)
			}
		}
		if evs[0].ObjectType != "address" || evs[0].ObjectID != attacker.IP || evs[0].Actor != "nobody@nhs.net" {
			t.Fatalf("unknown-account failure recorded as %+v", evs[0])
		}
		if evs[1].ObjectType != "user" || evs[1].ObjectID != u.ID {
			t.Fatalf("wrong-password failure recorded as %+v", evs[1])
		}
		verifyAudit(t, db)
	})
}

func TestLockOutAfterFiveFailuresForFifteenMinutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "target@nhs.net")

		// Four failures, then a success, clears the count.
		for range 4 {
			_, _, err := e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
			wantCode(t, err, errs.Unauthenticated)
		}
		e.signIn(t, u.Email, auth.StateEnrol)
		for range 4 {
			_, _, err := e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
			wantCode(t, err, errs.Unauthenticated)
		}
		if evs := events(t, db, audit.Filter{Action: "auth.lockout"}); len(evs) != 0 {
			t.Fatalf("locked after 4 consecutive failures: %+v", evs)
		}
		// The fifth consecutive failure locks the account.
		_, _, err := e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
		wantCode(t, err, errs.Unauthenticated)
		lock := events(t, db, audit.Filter{Action: "auth.lockout"})
		if len(lock) != 1 || lock[0].ObjectID != u.ID || lock[0].Detail["failures"] != "5" ||
			lock[0].Detail["until"] != t0.Add(15*time.Minute).Format(time.RFC3339) {
			t.Fatalf("lock-out audit %+v", lock)
		}

		// Even the right password is refused while locked, and says until when.
		e.clock.Advance(15*time.Minute - time.Second)
		_, _, err = e.svc.SignIn(ctx, browser, u.Email, goodPassword)
		if m := wantCode(t, err, errs.TooMany).Message; !strings.Contains(m, "09:15 UTC") {
			t.Fatalf("lock-out message %q does not say when the lock ends", m)
		}
		// Wrong guesses while locked do not extend the lock.
		_, _, err = e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
		wantCode(t, err, errs.TooMany)

		e.clock.Advance(time.Second)
		e.signIn(t, u.Email, auth.StateEnrol)

		refused := 0
		for _, ev := range events(t, db, audit.Filter{Action: "auth.signin", ObjectID: u.ID}) {
			if ev.Outcome == audit.Refused {
				refused++
				if ev.Detail["reason"] != "locked" {
					t.Fatalf("refusal audited as %+v", ev)
				}
			}
		}
		if refused != 2 {
			t.Fatalf("%d refusals audited, want 2", refused)
		}
		failures := countOutcomes(events(t, db, audit.Filter{Action: "auth.signin", ObjectID: u.ID}))[audit.Failure]
		if failures != 9 {
			t.Fatalf("%d failures audited, want 9", failures)
		}

		// After the lock the count starts again from zero.
		for range 4 {
			_, _, err := e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
			wantCode(t, err, errs.Unauthenticated)
		}
		e.signIn(t, u.Email, auth.StateEnrol)
		verifyAudit(t, db)
	})
}

func TestLockOutIsConfigurable(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{MaxFailures: 2, LockoutFor: time.Hour})
		u := e.user(t, "target@nhs.net")
		for range 2 {
			e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
		}
		e.clock.Advance(59 * time.Minute)
		_, _, err := e.svc.SignIn(ctx, browser, u.Email, goodPassword)
		wantCode(t, err, errs.TooMany)
		e.clock.Advance(time.Minute)
		e.signIn(t, u.Email, auth.StateEnrol)
	})
}

func TestIPThrottle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{IPFailures: 3, IPWindow: 10 * time.Minute})
		u := e.user(t, "victim@nhs.net")
		// Failures against different accounts from one address add up.
		for _, email := range []string{"a@nhs.net", "b@nhs.net", "c@nhs.net"} {
			_, _, err := e.svc.SignIn(ctx, attacker, email, goodPassword)
			wantCode(t, err, errs.Unauthenticated)
		}
		// Now even a correct sign-in from that address is refused...
		_, _, err := e.svc.SignIn(ctx, attacker, u.Email, goodPassword)
		wantCode(t, err, errs.TooMany)
		// ...but not from another address, and the account is not locked.
		e.signIn(t, u.Email, auth.StateEnrol)

		throttled := events(t, db, audit.Filter{Action: "auth.signin", ObjectType: "address", ObjectID: attacker.IP})
		if c := countOutcomes(throttled); c[audit.Failure] != 3 || c[audit.Refused] != 1 {
			t.Fatalf("address audit %+v", throttled)
		}
		if last := throttled[len(throttled)-1]; last.Detail["reason"] != "throttled" {
			t.Fatalf("throttle refusal audited as %+v", last)
		}

		// The window passes and the address may try again.
		e.clock.Advance(10 * time.Minute)
		if _, _, err := e.svc.SignIn(ctx, attacker, u.Email, goodPassword); err != nil {
			t.Fatalf("still throttled after the window: %v", err)
		}
		verifyAudit(t, db)
	})
}

func TestIPThrottleDefaultIsFiftyFailures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "victim@nhs.net")
		for i := range 50 {
			_, _, err := e.svc.SignIn(ctx, attacker, "nobody@nhs.net", goodPassword)
			if errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
			e.clock.Advance(10 * time.Second) // 50 attempts in 8m20s: inside one 15-minute window
		}
		_, _, err := e.svc.SignIn(ctx, attacker, u.Email, goodPassword)
		wantCode(t, err, errs.TooMany)
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "pat@nhs.net")
		token, sess, _, _ := e.enrol(t, u)
		other, _ := e.signIn(t, u.Email, auth.StateMFA)
		const next = "a different long passphrase"

		wantField(t, e.svc.ChangePassword(ctx, browser, sess, "wrong current", next), "current_password")
		wantField(t, e.svc.ChangePassword(ctx, browser, sess, goodPassword, "short"), "password")
		m := wantField(t, e.svc.ChangePassword(ctx, browser, sess, goodPassword, goodPassword), "password")
		if !strings.Contains(m, "different") {
			t.Fatalf("reuse message %q", m)
		}
		if err := e.svc.ChangePassword(ctx, browser, sess, goodPassword, next); err != nil {
			t.Fatal(err)
		}
		// This session continues; every other session of the person ends.
		if _, _, err := e.svc.Session(ctx, token); err != nil {
			t.Fatalf("own session ended: %v", err)
		}
		if _, _, err := e.svc.Session(ctx, other); errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("other session still valid: %v", err)
		}
		_, _, err := e.svc.SignIn(ctx, browser, u.Email, goodPassword)
		wantCode(t, err, errs.Unauthenticated)
		if _, s, err := e.svc.SignIn(ctx, browser, u.Email, next); err != nil || s.State != auth.StateMFA {
			t.Fatalf("sign in with new password: %v %+v", err, s)
		}
		if evs := events(t, db, audit.Filter{Action: "auth.password.change"}); len(evs) != 1 || evs[0].ObjectID != u.ID {
			t.Fatalf("password change audit %+v", evs)
		}
		verifyAudit(t, db)
	})
}

func TestForcedPasswordChange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		fresh := e.user(t, "fresh@nhs.net")
		enrolled := e.user(t, "enrolled@nhs.net")
		e.enrol(t, enrolled)
		if _, err := db.Exec(ctx, `UPDATE users SET must_change_password = 1`); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			u    *auth.User
			want string
		}{{fresh, auth.StateEnrol}, {enrolled, auth.StateMFA}} {
			token, sess := e.signIn(t, c.u.Email, auth.StatePassword)
			// The password was just proven: the current one is not asked again.
			wantField(t, e.svc.ChangePassword(ctx, browser, sess, "", "password1234"), "password")
			if err := e.svc.ChangePassword(ctx, browser, sess, "", "my brand new passphrase"); err != nil {
				t.Fatal(err)
			}
			if sess.State != c.want {
				t.Fatalf("%s: state after change %q, want %q", c.u.Email, sess.State, c.want)
			}
			stored, _, err := e.svc.Session(ctx, token)
			if err != nil || stored.State != c.want {
				t.Fatalf("%s: stored session %+v, %v", c.u.Email, stored, err)
			}
			if got, _ := e.svc.User(ctx, c.u.ID); got.MustChangePassword {
				t.Fatalf("%s: still must change password", c.u.Email)
			}
		}
	})
}

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "idle@nhs.net")
		token, _ := e.signIn(t, u.Email, auth.StateEnrol)

		// Used within the minute: last-seen is not rewritten (no write per page).
		e.clock.Advance(30 * time.Second)
		s, got, err := e.svc.Session(ctx, token)
		if err != nil || got.ID != u.ID {
			t.Fatalf("Session = %v, %v", got, err)
		}
		if !s.LastSeen.Equal(t0) {
			t.Fatalf("last seen %v refreshed within a minute", s.LastSeen)
		}
		// Used after 29 minutes: still valid, and the idle timer restarts.
		e.clock.Advance(29*time.Minute - 30*time.Second)
		s, _, err = e.svc.Session(ctx, token)
		if err != nil {
			t.Fatalf("session ended before 30 idle minutes: %v", err)
		}
		if !s.LastSeen.Equal(t0.Add(29 * time.Minute)) {
			t.Fatalf("last seen %v, want refreshed to now", s.LastSeen)
		}
		// Another 29 minutes: 58 since sign-in, 29 idle.
		e.clock.Advance(29 * time.Minute)
		if _, _, err := e.svc.Session(ctx, token); err != nil {
			t.Fatalf("active session ended: %v", err)
		}
		// 30 idle minutes end it.
		e.clock.Advance(30 * time.Minute)
		_, _, err = e.svc.Session(ctx, token)
		if m := wantCode(t, err, errs.Unauthenticated).Message; !strings.Contains(m, "timed out") {
			t.Fatalf("idle timeout message %q", m)
		}
		// It is gone for good, even if the clock could be wound back.
		var n int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE user_id = ?`, u.ID).Scan(&n)
		if n != 0 {
			t.Fatalf("%d timed-out sessions left in the table", n)
		}
		_, _, err = e.svc.Session(ctx, token)
		wantCode(t, err, errs.Unauthenticated)
	})
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "busy@nhs.net")
		token, _ := e.signIn(t, u.Email, auth.StateEnrol)
		// Used every 20 minutes all day, the session still ends at 12 hours.
		for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
			e.clock.Advance(20 * time.Minute)
			if _, _, err := e.svc.Session(ctx, token); err != nil {
				t.Fatalf("session ended after %v: %v", elapsed, err)
			}
		}
		e.clock.Advance(20 * time.Minute) // now exactly 12 h
		_, _, err := e.svc.Session(ctx, token)
		wantCode(t, err, errs.Unauthenticated)
	})
}

func TestSessionUnknownTokenAndSignOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "out@nhs.net")
		for _, tok := range []string{"", "not-a-session"} {
			_, _, err := e.svc.Session(ctx, tok)
			wantCode(t, err, errs.Unauthenticated)
		}
		token, _ := e.signIn(t, u.Email, auth.StateEnrol)
		keep, _ := e.signIn(t, u.Email, auth.StateEnrol)
		who := browser
		who.UserID, who.Email = u.ID, u.Email
		if err := e.svc.SignOut(ctx, who, token); err != nil {
			t.Fatal(err)
		}
		_, _, err := e.svc.Session(ctx, token)
		wantCode(t, err, errs.Unauthenticated)
		if _, _, err := e.svc.Session(ctx, keep); err != nil {
			t.Fatalf("signing out ended another session: %v", err)
		}
		// Signing out twice is harmless and audited once.
		if err := e.svc.SignOut(ctx, who, token); err != nil {
			t.Fatal(err)
		}
		if evs := events(t, db, audit.Filter{Action: "auth.signout"}); len(evs) != 1 || evs[0].ObjectID != u.ID {
			t.Fatalf("sign-out audit %+v", evs)
		}
	})
}
