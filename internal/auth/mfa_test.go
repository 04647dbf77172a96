package auth_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

var recoveryFormat = regexp.MustCompile(`^[A-Z2-7]{5}-[A-Z2-7]{5}$`)

func TestTOTPCode(t *testing.T) {
	t.Parallel()
	// RFC 6238 appendix B, SHA-1, secret "12345678901234567890" (base32 below),
	// last six digits of the eight-digit vectors.
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	for unix, want := range map[int64]string{59: "287082", 1111111109: "081804", 1234567890: "005924", 2000000000: "279037"} {
		if got := auth.TOTPCode(secret, time.Unix(unix, 0)); got != want {
			t.Errorf("TOTPCode at %d = %s, want %s", unix, got, want)
		}
	}
}

func TestMFAEnrolment(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{Issuer: "CareGate Test"})
		u := e.user(t, "enrol@nhs.net")
		token, sess := e.signIn(t, u.Email, auth.StateEnrol)

		_, err := e.svc.ConfirmEnrol(ctx, browser, sess, "123456")
		wantCode(t, err, errs.Conflict) // not started

		en, err := e.svc.StartEnrol(ctx, sess, u)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(en.Secret) {
			t.Fatalf("secret %q is not 160-bit base32", en.Secret)
		}
		if !strings.HasPrefix(en.URL, "otpauth://totp/") || !strings.Contains(en.URL, "secret="+en.Secret) ||
			!strings.Contains(en.URL, "enrol@nhs.net") || !strings.Contains(en.URL, "CareGate") {
			t.Fatalf("URL %q", en.URL)
		}
		if !strings.HasPrefix(en.QRImage, "data:image/png;base64,") || len(en.QRImage) < 500 {
			t.Fatalf("QR image %.60q…", en.QRImage)
		}

		// Reloading the page shows the same secret, also from a fresh load of the session.
		again, _ := e.svc.StartEnrol(ctx, sess, u)
		reloaded, _, err := e.svc.Session(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		third, _ := e.svc.StartEnrol(ctx, reloaded, u)
		if again.Secret != en.Secret || third.Secret != en.Secret || reloaded.PendingTOTP != en.Secret {
			t.Fatalf("secret changed on reload: %s, %s, %s", en.Secret, again.Secret, third.Secret)
		}

		// A wrong code is refused, audited, and changes nothing.
		_, err = e.svc.ConfirmEnrol(ctx, browser, reloaded, wrongCode(en.Secret, e.clock.Now()))
		wantField(t, err, "code")
		if got, _ := e.svc.User(ctx, u.ID); got.MFAEnabled {
			t.Fatal("MFA enabled by a wrong code")
		}
		if reloaded.State != auth.StateEnrol {
			t.Fatalf("state %q after wrong code", reloaded.State)
		}

		// The current code, typed with spaces, turns MFA on.
		code := auth.TOTPCode(en.Secret, e.clock.Now())
		codes, err := e.svc.ConfirmEnrol(ctx, browser, reloaded, " "+code[:3]+" "+code[3:]+" ")
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != auth.RecoveryCodeCount || auth.RecoveryCodeCount != 10 {
			t.Fatalf("%d recovery codes", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !recoveryFormat.MatchString(c) || seen[c] {
				t.Fatalf("recovery code %q malformed or repeated in %v", c, codes)
			}
			seen[c] = true
		}
		if n, _ := e.svc.RemainingRecoveryCodes(ctx, u.ID); n != 10 {
			t.Fatalf("%d recovery codes stored", n)
		}
		var stored int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE code_hash = ?`, codes[0]).Scan(&stored)
		if stored != 0 {
			t.Fatal("a recovery code is stored in clear")
		}
		if got, _ := e.svc.User(ctx, u.ID); !got.MFAEnabled {
			t.Fatal("MFA not enabled")
		}
		s, _, err := e.svc.Session(ctx, token)
		if err != nil || s.State != auth.StateFull || s.PendingTOTP != "" {
			t.Fatalf("session after enrolment %+v, %v", s, err)
		}
		_, err = e.svc.StartEnrol(ctx, s, u)
		wantCode(t, err, errs.Conflict)

		c := countOutcomes(events(t, db, audit.Filter{Action: "auth.mfa.enrol", ObjectID: u.ID}))
		if c[audit.Failure] != 1 || c[audit.Success] != 1 {
			t.Fatalf("enrolment audit %v", c)
		}
		verifyAudit(t, db)
	})
}

func TestVerifyMFA(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "mfa@nhs.net")
		_, full, secret, _ := e.enrol(t, u)
		wantCode(t, e.svc.VerifyMFA(ctx, browser, full, "123456"), errs.Conflict)

		// The code used to enrol cannot be used again in the same time step.
		_, sess := e.signIn(t, u.Email, auth.StateMFA)
		wantField(t, e.svc.VerifyMFA(ctx, browser, sess, auth.TOTPCode(secret, e.clock.Now())), "code")
		if sess.State != auth.StateMFA {
			t.Fatalf("state %q after a replayed code", sess.State)
		}
		// The next step's code is accepted.
		e.clock.Advance(30 * time.Second)
		token, sess := e.signIn(t, u.Email, auth.StateMFA)
		code := auth.TOTPCode(secret, e.clock.Now())
		if err := e.svc.VerifyMFA(ctx, browser, sess, code); err != nil {
			t.Fatal(err)
		}
		if s, _, _ := e.svc.Session(ctx, token); sess.State != auth.StateFull || s.State != auth.StateFull {
			t.Fatalf("state after code %q / stored %q", sess.State, s.State)
		}
		// ...and only once, even in another session.
		_, sess = e.signIn(t, u.Email, auth.StateMFA)
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, code), errs.Invalid)
		// A wrong code, a code from long ago and junk are refused.
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, wrongCode(secret, e.clock.Now())), errs.Invalid)
		e.clock.Advance(5 * time.Minute)
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, auth.TOTPCode(secret, e.clock.Now().Add(-2*time.Minute))), errs.Invalid)
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, "12345"), errs.Invalid)
		// One step of phone clock drift is allowed.
		if err := e.svc.VerifyMFA(ctx, browser, sess, auth.TOTPCode(secret, e.clock.Now().Add(-30*time.Second))); err != nil {
			t.Fatalf("code from the previous step refused: %v", err)
		}

		evs := events(t, db, audit.Filter{Action: "auth.mfa.verify", ObjectID: u.ID})
		if c := countOutcomes(evs); c[audit.Success] != 2 || c[audit.Failure] != 5 {
			t.Fatalf("verify audit %v", c)
		}
		if evs[len(evs)-1].Detail["method"] != "totp" {
			t.Fatalf("method %+v", evs[len(evs)-1].Detail)
		}
		verifyAudit(t, db)
	})
}

func TestMFAFailuresLockTheAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "guess@nhs.net")
		_, _, secret, _ := e.enrol(t, u)
		e.clock.Advance(time.Minute)
		_, sess := e.signIn(t, u.Email, auth.StateMFA)
		for range 5 {
			wantCode(t, e.svc.VerifyMFA(ctx, attacker, sess, wrongCode(secret, e.clock.Now())), errs.Invalid)
		}
		// Locked: even the right code or password is refused now.
		wantCode(t, e.svc.VerifyMFA(ctx, attacker, sess, auth.TOTPCode(secret, e.clock.Now())), errs.TooMany)
		_, _, err := e.svc.SignIn(ctx, browser, u.Email, goodPassword)
		wantCode(t, err, errs.TooMany)
		if evs := events(t, db, audit.Filter{Action: "auth.lockout", ObjectID: u.ID}); len(evs) != 1 {
			t.Fatalf("lock-out audit %+v", evs)
		}
		e.clock.Advance(15 * time.Minute)
		if err := e.svc.VerifyMFA(ctx, browser, sess, auth.TOTPCode(secret, e.clock.Now())); err != nil {
			t.Fatalf("after the lock: %v", err)
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "lost.phone@nhs.net")
		_, _, _, codes := e.enrol(t, u)

		// Typed in lower case with a space instead of the dash.
		_, sess := e.signIn(t, u.Email, auth.StateMFA)
		if err := e.svc.VerifyMFA(ctx, browser, sess, strings.ToLower(strings.Replace(codes[3], "-", " ", 1))); err != nil {
			t.Fatal(err)
		}
		if sess.State != auth.StateFull {
			t.Fatalf("state %q", sess.State)
		}
		if n, _ := e.svc.RemainingRecoveryCodes(ctx, u.ID); n != 9 {
			t.Fatalf("%d codes left, want 9", n)
		}
		ev := events(t, db, audit.Filter{Action: "auth.mfa.verify", ObjectID: u.ID})
		if len(ev) != 1 || ev[0].Detail["method"] != "recovery_code" {
			t.Fatalf("recovery audit %+v", ev)
		}

		// Single use.
		_, sess = e.signIn(t, u.Email, auth.StateMFA)
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, codes[3]), errs.Invalid)
		// Another user's code does not work here.
		v := e.user(t, "other@nhs.net")
		_, _, _, vcodes := e.enrol(t, v)
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, vcodes[0]), errs.Invalid)

		// Regenerating replaces every code.
		fresh, err := e.svc.RegenerateRecoveryCodes(ctx, browser, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(fresh) != 10 || slices.ContainsFunc(fresh, func(c string) bool { return slices.Contains(codes, c) }) {
			t.Fatalf("regenerated codes %v overlap old %v", fresh, codes)
		}
		if n, _ := e.svc.RemainingRecoveryCodes(ctx, u.ID); n != 10 {
			t.Fatalf("%d codes after regeneration", n)
		}
		wantCode(t, e.svc.VerifyMFA(ctx, browser, sess, codes[0]), errs.Invalid)
		if err := e.svc.VerifyMFA(ctx, browser, sess, fresh[9]); err != nil {
			t.Fatalf("new recovery code refused: %v", err)
		}
		if evs := events(t, db, audit.Filter{Action: "auth.mfa.recovery_codes", ObjectID: u.ID}); len(evs) != 1 {
			t.Fatalf("regeneration audit %+v", evs)
		}
		verifyAudit(t, db)
	})
}
