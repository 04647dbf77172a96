package auth_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// oneTimeFormat is four groups of four from the unambiguous alphabet.
var oneTimeFormat = regexp.MustCompile(`^[a-hjkmnp-zA-HJ-NP-RT-Y346-9]{4}(-[a-hjkmnp-zA-HJ-NP-RT-Y346-9]{4}){3}$`)

// setOneTime gives u a one-time password in a transaction of its own.
func (e *env) setOneTime(t *testing.T, userID string) string {
	t.Helper()
	var pw string
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		pw, err = e.svc.SetOneTimePasswordTx(ctx, tx, userID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func TestOneTimePassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "approved@nhs.net", GivenName: "Ap", FamilyName: "Proved"})
		if err != nil {
			t.Fatal(err)
		}
		pw := e.setOneTime(t, u.ID)
		if !oneTimeFormat.MatchString(pw) {
			t.Fatalf("one-time password %q", pw)
		}
		if again := e.setOneTime(t, u.ID); again == pw {
			t.Fatal("two one-time passwords are equal")
		} else {
			pw = again // the latest replaces the earlier one
		}
		var stored string
		db.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&stored)
		if !strings.HasPrefix(stored, "otp$sha256$") || strings.Contains(stored, pw) {
			t.Fatalf("stored %q", stored)
		}
		if !auth.CheckPassword(stored, pw) || auth.CheckPassword(stored, strings.ToUpper(pw)) || auth.CheckPassword(stored, "") {
			t.Fatal("CheckPassword on a one-time hash")
		}
		for _, bad := range []string{"otp$sha256$", "otp$sha256$zz", "otp$sha256$" + strings.Repeat("ab", 31)} {
			if auth.CheckPassword(bad, pw) {
				t.Fatalf("malformed one-time hash %q accepted", bad)
			}
		}

		// Signing in with it forces a new password first, then MFA enrolment.
		token, sess, err := e.svc.SignIn(ctx, browser, u.Email, pw)
		if err != nil || sess.State != auth.StatePassword {
			t.Fatalf("sign in with one-time password: %+v, %v", sess, err)
		}
		if err := e.svc.ChangePassword(ctx, browser, sess, "", goodPassword); err != nil {
			t.Fatal(err)
		}
		if s, _, err := e.svc.Session(ctx, token); err != nil || s.State != auth.StateEnrol {
			t.Fatalf("after change: %+v, %v", s, err)
		}
		if got, _ := e.svc.User(ctx, u.ID); got.MustChangePassword {
			t.Fatal("still must change password")
		}
		_, _, err = e.svc.SignIn(ctx, browser, u.Email, pw)
		wantCode(t, err, errs.Unauthenticated)
		e.signIn(t, u.Email, auth.StateEnrol)

		err = db.InTx(ctx, func(tx *store.Tx) error { _, err := e.svc.SetOneTimePasswordTx(ctx, tx, "nobody"); return err })
		wantCode(t, err, errs.NotFound)
	})
}

func TestOneTimePasswordUnlocksTheAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "forgetful@nhs.net")
		e.enrol(t, u)
		for range 5 {
			e.svc.SignIn(ctx, attacker, u.Email, "wrong-password-guess")
		}
		_, _, err := e.svc.SignIn(ctx, browser, u.Email, goodPassword)
		wantCode(t, err, errs.TooMany)
		if evs := events(t, db, audit.Filter{Action: "auth.lockout"}); len(evs) != 1 {
			t.Fatalf("lock-out audit %+v", evs)
		}

		// The back office issues a one-time password: the lock is lifted, and
		// an enrolled person goes on to their code after the change.
		pw := e.setOneTime(t, u.ID)
		e.clock.Advance(time.Minute)
		_, sess, err := e.svc.SignIn(ctx, browser, u.Email, pw)
		if err != nil || sess.State != auth.StatePassword {
			t.Fatalf("sign in with one-time password while locked: %+v, %v", sess, err)
		}
		if err := e.svc.ChangePassword(ctx, browser, sess, "", "a fresh memorable passphrase"); err != nil {
			t.Fatal(err)
		}
		if sess.State != auth.StateMFA {
			t.Fatalf("state %q, want %q", sess.State, auth.StateMFA)
		}
	})
}
