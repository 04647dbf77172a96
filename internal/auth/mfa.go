package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// RecoveryCodeCount is how many single-use recovery codes enrolment issues.
const RecoveryCodeCount = 10

var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is what the enrolment page shows.
type Enrolment struct {
	Secret  string // base32, for typing into an app
	URL     string // otpauth:// URL
	QRImage string // data: URL of a PNG QR code of URL
}

// StartEnrol creates (or re-shows) the authenticator secret offered to a
// session in the enrolment state. The secret is kept on the session until it
// is confirmed with a valid code. Errors: Conflict (not enrolling).
func (s *Service) StartEnrol(ctx context.Context, sess *Session, u *User) (*Enrolment, error) {
	if sess.State != StateEnrol {
		return nil, errs.E(errs.Conflict, "Your authenticator app is already set up")
	}
	secret := sess.PendingTOTP
	if secret == "" {
		key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: u.Email})
		if err != nil {
			return nil, errs.Wrap(err, "generate totp")
		}
		secret = key.Secret()
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET pending_totp = ? WHERE id_hash = ?`, secret, sess.IDHash); err != nil {
			return nil, errs.Wrap(err, "store pending secret")
		}
		sess.PendingTOTP = secret
	}
	return enrolment(s.cfg.Issuer, u.Email, secret)
}

func enrolment(issuer, account, secret string) (*Enrolment, error) {
	key, err := otp.NewKeyFromURL("otpauth://totp/" + issuer + ":" + account + "?secret=" + secret + "&issuer=" + issuer)
	if err != nil {
		return nil, errs.Wrap(err, "totp url")
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, errs.Wrap(err, "qr")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, errs.Wrap(err, "png")
	}
	return &Enrolment{Secret: secret, URL: key.URL(), QRImage: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// matchTOTP returns the time step a code is valid for (allowing one step of
// clock drift either way), or 0.
func matchTOTP(secret, code string, now time.Time) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return 0
	}
	for _, d := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(d) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err == nil && want == code {
			return t.Unix() / 30
		}
	}
	return 0
}

// TOTPCode returns the current code for a secret; demo mode shows it and
// tests use it to sign in.
func TOTPCode(secret string, now time.Time) string {
	c, _ := totp.GenerateCodeCustom(secret, now, totpOpts)
	return c
}

// ConfirmEnrol checks a code from the newly set-up app, turns MFA on, issues
// ten recovery codes (returned once, stored hashed) and completes sign-in.
// Errors: Conflict, Invalid.
func (s *Service) ConfirmEnrol(ctx context.Context, who audit.Who, sess *Session, code string) ([]string, error) {
	if sess.State != StateEnrol || sess.PendingTOTP == "" {
		return nil, errs.E(errs.Conflict, "Start setting up your authenticator app first")
	}
	now := s.clock.Now()
	step := matchTOTP(sess.PendingTOTP, code, now)
	if step == 0 {
		s.audit(ctx, audit.New(who, "auth.mfa.enrol", "user", sess.UserID, audit.Failure, nil))
		return nil, &errs.Error{Code: errs.Invalid, Message: "The code is not correct. Check the time on your phone and enter the current 6-digit code.",
			Fields: []errs.FieldError{{Field: "code", Message: "Enter the 6-digit code shown in your authenticator app"}}}
	}
	codes := make([]string, RecoveryCodeCount)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = 1, totp_last_step = ?, updated_at = ? WHERE id = ?`,
			sess.PendingTOTP, step, now.UnixMicro(), sess.UserID); err != nil {
			return errs.Wrap(err, "enable mfa")
		}
		if err := s.replaceRecoveryCodes(ctx, tx, sess.UserID, codes); err != nil {
			return err
		}
		if err := s.setState(ctx, tx, sess, StateFull); err != nil {
			return err
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.mfa.enrol", "user", sess.UserID, audit.Success, nil))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func (s *Service) replaceRecoveryCodes(ctx context.Context, tx *store.Tx, userID string, codes []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return errs.Wrap(err, "clear recovery codes")
	}
	for i := range codes {
		raw := strings.ToUpper(ident.New()[:10])
		codes[i] = raw[:5] + "-" + raw[5:]
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, ident.Hash(normaliseRecovery(codes[i]))); err != nil {
			return errs.Wrap(err, "store recovery code")
		}
	}
	return nil
}

func normaliseRecovery(c string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(c)))
}

// VerifyMFA completes sign-in with an authenticator code or, failing that, a
// single-use recovery code. A code cannot be used twice. Failures count
// towards the account lock-out like wrong passwords. Errors: Conflict,
// Invalid, TooMany.
func (s *Service) VerifyMFA(ctx context.Context, who audit.Who, sess *Session, code string) error {
	if sess.State != StateMFA {
		return errs.E(errs.Conflict, "No code is needed now")
	}
	u, err := s.User(ctx, sess.UserID)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if u.lockedUntil > now.UnixMicro() {
		return errs.E(errs.TooMany, "This account is temporarily locked after too many failed attempts. Try again later.")
	}
	step := matchTOTP(u.totpSecret, code, now)
	var okErr error
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		how := "totp"
		if step != 0 {
			// Only a later step than the last one used: a code seen over a
			// shoulder or replayed cannot be used again.
			res, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = ?, failed_logins = 0 WHERE id = ? AND totp_last_step < ?`, step, u.ID, step)
			if err != nil {
				return errs.Wrap(err, "record step")
			}
			if n, _ := res.RowsAffected(); n == 0 {
				step = 0
			}
		} else if len(normaliseRecovery(code)) == 10 {
			res, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`,
				now.UnixMicro(), u.ID, ident.Hash(normaliseRecovery(code)))
			if err != nil {
				return errs.Wrap(err, "use recovery code")
			}
			if n, _ := res.RowsAffected(); n == 1 {
				step, how = -1, "recovery_code"
			}
		}
		if step == 0 {
			if err := s.countFailureTx(ctx, tx, who, u.ID, now); err != nil {
				return err
			}
			okErr = &errs.Error{Code: errs.Invalid, Message: "The code is not correct",
				Fields: []errs.FieldError{{Field: "code", Message: "Enter the current 6-digit code from your authenticator app, or a recovery code"}}}
			return s.log.Record(ctx, tx, audit.New(who, "auth.mfa.verify", "user", u.ID, audit.Failure, nil))
		}
		if err := s.setState(ctx, tx, sess, StateFull); err != nil {
			return err
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.mfa.verify", "user", u.ID, audit.Success, map[string]string{"method": how}))
	})
	if err != nil {
		return err
	}
	return okErr
}

// RemainingRecoveryCodes counts a user's unused recovery codes.
func (s *Service) RemainingRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at = 0`, userID).Scan(&n)
	return n, err
}

// RegenerateRecoveryCodes replaces a signed-in user's recovery codes.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, who audit.Who, userID string) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.replaceRecoveryCodes(ctx, tx, userID, codes); err != nil {
			return err
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.mfa.recovery_codes", "user", userID, audit.Success, nil))
	})
	return codes, err
}

// EnableTOTPWithSecret turns MFA on with a known secret; used only to load
// deterministic demo data, where the secret is published on the start page.
func (s *Service) EnableTOTPWithSecret(ctx context.Context, tx *store.Tx, userID, secret string) error {
	_, err := tx.Exec(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = 1 WHERE id = ?`, secret, userID)
	return err
}
