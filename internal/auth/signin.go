package auth

import (
	"context"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Session states: a session is only "full" once the password and the second
// factor are both done; the other states allow nothing but finishing sign-in.
const (
	StatePassword = "password"  // must choose a new password first
	StateEnrol    = "mfa_enrol" // must set up an authenticator app
	StateMFA      = "mfa"       // must enter a code
	StateFull     = "full"      // signed in
)

// Session is a server-side session.
type Session struct {
	IDHash      string
	UserID      string
	State       string
	PendingTOTP string
	CreatedAt   time.Time
	LastSeen    time.Time
	ExpiresAt   time.Time
}

var errBadCredentials = errs.E(errs.Unauthenticated, "The e-mail address or password is not correct")

// SignIn checks an e-mail address and password. On success it starts a
// session (returning its secret token) in the state that says what must come
// next: a new password, MFA enrolment or an MFA code. Failures count towards
// the account's lock-out and the client address's throttle, and are audited.
// Errors: Unauthenticated, TooMany.
func (s *Service) SignIn(ctx context.Context, who audit.Who, email, password string) (string, *Session, error) {
	email, _ = NormaliseEmail(email)
	if len(password) > 256 {
		password = password[:256]
	}
	now := s.clock.Now()
	if err := s.checkIP(ctx, who, now); err != nil {
		return "", nil, err
	}
	u, err := getUser(ctx, s.db, "email = ?", email)
	if errs.CodeOf(err) == errs.NotFound {
		CheckPassword(s.dummy, password) // same cost as a real check: no account enumeration by timing
		who.Email = email
		s.recordFailure(ctx, who, "", now, "unknown account")
		return "", nil, errBadCredentials
	}
	if err != nil {
		return "", nil, err
	}
	who.UserID, who.Email = u.ID, u.Email
	if u.lockedUntil > now.UnixMicro() {
		s.audit(ctx, audit.New(who, "auth.signin", "user", u.ID, audit.Refused, map[string]string{"reason": "locked"}))
		return "", nil, errs.E(errs.TooMany, "This account is temporarily locked after too many failed attempts. Try again after %s.",
			time.UnixMicro(u.lockedUntil).UTC().Format("15:04 MST"))
	}
	if u.passwordHash == "" || strings.HasPrefix(u.passwordHash, oneTimePrefix) {
		// An account still waiting for its set-up link, or holding a
		// one-time password (checked with a fast hash), costs a full hash
		// too, or timing would tell which addresses have been invited.
		CheckPassword(s.dummy, password)
	}
	if u.passwordHash == "" || !CheckPassword(u.passwordHash, password) {
		s.recordFailure(ctx, who, u.ID, now, "wrong password")
		return "", nil, errBadCredentials
	}
	if u.Status != StatusActive {
		s.audit(ctx, audit.New(who, "auth.signin", "user", u.ID, audit.Refused, map[string]string{"reason": "deactivated"}))
		return "", nil, errs.E(errs.Forbidden, "This account has been deactivated. Contact your site authoriser.")
	}
	state := StateMFA
	switch {
	case u.MustChangePassword:
		state = StatePassword
	case !u.MFAEnabled:
		state = StateEnrol
	}
	var token string
	var sess *Session
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?`, u.ID); err != nil {
			return errs.Wrap(err, "reset failures")
		}
		token, sess, err = s.newSession(ctx, tx, who, u.ID, state)
		if err != nil {
			return err
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.password", "user", u.ID, audit.Success, map[string]string{"next": state}))
	})
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

func (s *Service) newSession(ctx context.Context, tx *store.Tx, who audit.Who, userID, state string) (string, *Session, error) {
	token := ident.Secret("")
	now := s.clock.Now()
	sess := &Session{IDHash: ident.Hash(token), UserID: userID, State: state, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(s.cfg.AbsoluteLifetime)}
	_, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, state, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sess.IDHash, userID, state, now.UnixMicro(), now.UnixMicro(),
		sess.ExpiresAt.UnixMicro(), who.IP, truncate(who.UserAgent, 300))
	if err != nil {
		return "", nil, errs.Wrap(err, "insert session")
	}
	return token, sess, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkIP refuses sign-in from an address with too many recent failures.
func (s *Service) checkIP(ctx context.Context, who audit.Who, now time.Time) error {
	var count int
	var start int64
	err := s.db.QueryRow(ctx, `SELECT count, window_start FROM throttle WHERE key = ?`, "signin:"+who.IP).Scan(&count, &start)
	if err != nil && !store.IsNoRows(err) {
		return errs.Wrap(err, "read throttle")
	}
	if err == nil && now.UnixMicro()-start < s.cfg.IPWindow.Microseconds() && count >= s.cfg.IPFailures {
		s.audit(ctx, audit.New(who, "auth.signin", "address", who.IP, audit.Refused, map[string]string{"reason": "throttled"}))
		return errs.E(errs.TooMany, "Too many failed sign-in attempts from your network. Wait a few minutes and try again.")
	}
	return nil
}

// recordFailure counts a failed attempt against the account (locking it at
// the limit) and the client address, and audits it, in one transaction.
func (s *Service) recordFailure(ctx context.Context, who audit.Who, userID string, now time.Time, reason string) {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.countFailureTx(ctx, tx, who, userID, now); err != nil {
			return err
		}
		obj, id := "user", userID
		if userID == "" {
			obj, id = "address", who.IP
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.signin", obj, id, audit.Failure, map[string]string{"reason": reason}))
	})
	if err != nil {
		s.audit(ctx, audit.New(who, "auth.signin", "user", userID, audit.Failure, map[string]string{"reason": reason}))
	}
}

func (s *Service) countFailureTx(ctx context.Context, tx *store.Tx, who audit.Who, userID string, now time.Time) error {
	key := "signin:" + who.IP
	windowStart := now.UnixMicro() - s.cfg.IPWindow.Microseconds()
	if _, err := tx.Exec(ctx, `INSERT INTO throttle (key, count, window_start) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
		  count = CASE WHEN throttle.window_start < ? THEN 1 ELSE throttle.count + 1 END,
		  window_start = CASE WHEN throttle.window_start < ? THEN ? ELSE throttle.window_start END`,
		key, now.UnixMicro(), windowStart, windowStart, now.UnixMicro()); err != nil {
		return errs.Wrap(err, "throttle")
	}
	if userID == "" {
		return nil
	}
	var failed int
	if err := tx.QueryRow(ctx, `UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ? RETURNING failed_logins`, userID).Scan(&failed); err != nil {
		return errs.Wrap(err, "count failure")
	}
	if failed >= s.cfg.MaxFailures {
		until := now.Add(s.cfg.LockoutFor)
		if _, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = ? WHERE id = ?`, until.UnixMicro(), userID); err != nil {
			return errs.Wrap(err, "lock account")
		}
		if err := s.log.Record(ctx, tx, audit.New(who, "auth.lockout", "user", userID, audit.Success,
			map[string]string{"until": until.Format(time.RFC3339), "failures": itoa(failed)})); err != nil {
			return err
		}
	}
	return nil
}

// audit writes a standalone event; a failure is not fatal to the caller's
// refusal but is logged by the audit writer's caller.
func (s *Service) audit(ctx context.Context, ev audit.Event) {
	_ = s.log.Append(ctx, ev)
}

// Session looks up the session for a token, enforcing the idle timeout and
// absolute lifetime and that the account is still active. It refreshes the
// idle timer at most once a minute, so that reading pages is not a write per
// request. Errors: Unauthenticated.
func (s *Service) Session(ctx context.Context, token string) (*Session, *User, error) {
	if token == "" {
		return nil, nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	h := ident.Hash(token)
	var sess Session
	var created, seen, expires int64
	// The session and its user in one query (this runs on every request).
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+`, s.id_hash, s.user_id, s.state, s.pending_totp, s.created_at, s.last_seen_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`, h),
		&sess.IDHash, &sess.UserID, &sess.State, &sess.PendingTOTP, &created, &seen, &expires)
	if store.IsNoRows(err) {
		return nil, nil, errs.E(errs.Unauthenticated, "Your session has ended. Sign in again.")
	}
	if err != nil {
		return nil, nil, errs.Wrap(err, "load session")
	}
	sess.CreatedAt, sess.LastSeen, sess.ExpiresAt = time.UnixMicro(created).UTC(), time.UnixMicro(seen).UTC(), time.UnixMicro(expires).UTC()
	now := s.clock.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeen) >= s.cfg.IdleTimeout {
		_, _ = s.db.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, h)
		return nil, nil, errs.E(errs.Unauthenticated, "Your session has timed out. Sign in again.")
	}
	if u.Status != StatusActive {
		return nil, nil, errs.E(errs.Unauthenticated, "Your session has ended. Sign in again.")
	}
	if now.Sub(sess.LastSeen) > time.Minute {
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, now.UnixMicro(), h); err == nil {
			sess.LastSeen = now
		}
	}
	return &sess, u, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, who audit.Who, token string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, ident.Hash(token))
		if err != nil {
			return errs.Wrap(err, "delete session")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.signout", "user", who.UserID, audit.Success, nil))
	})
}

func (s *Service) setState(ctx context.Context, tx *store.Tx, sess *Session, state string) error {
	if _, err := tx.Exec(ctx, `UPDATE sessions SET state = ?, pending_totp = '' WHERE id_hash = ?`, state, sess.IDHash); err != nil {
		return errs.Wrap(err, "update session")
	}
	sess.State, sess.PendingTOTP = state, ""
	return nil
}

// ChangePassword sets a new password for the session's user. In the
// "password" state (a forced change after a one-time password) the current
// password was just proven at sign-in; otherwise it must be given again.
// Errors: Invalid, Unauthenticated.
func (s *Service) ChangePassword(ctx context.Context, who audit.Who, sess *Session, current, next string) error {
	u, err := s.User(ctx, sess.UserID)
	if err != nil {
		return err
	}
	if sess.State != StatePassword && !CheckPassword(u.passwordHash, current) {
		return &errs.Error{Code: errs.Invalid, Message: "Your current password is not correct",
			Fields: []errs.FieldError{{Field: "current_password", Message: "Your current password is not correct"}}}
	}
	if why := CheckPasswordStrength(next, u.Email, u.GivenName, u.FamilyName); why != "" {
		return &errs.Error{Code: errs.Invalid, Message: why, Fields: []errs.FieldError{{Field: "password", Message: why}}}
	}
	if CheckPassword(u.passwordHash, next) {
		return &errs.Error{Code: errs.Invalid, Message: "Choose a password different from your current one",
			Fields: []errs.FieldError{{Field: "password", Message: "Choose a password different from your current one"}}}
	}
	hash, err := HashPassword(next, s.cfg.Hash)
	if err != nil {
		return errs.Wrap(err, "hash")
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, must_change_password = 0, updated_at = ? WHERE id = ?`,
			hash, s.clock.Now().UnixMicro(), u.ID); err != nil {
			return errs.Wrap(err, "update password")
		}
		// Other sessions of this person end: a password change is often a
		// response to a suspected compromise.
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`, u.ID, sess.IDHash); err != nil {
			return errs.Wrap(err, "end other sessions")
		}
		if sess.State == StatePassword {
			next := StateMFA
			if !u.MFAEnabled {
				next = StateEnrol
			}
			if err := s.setState(ctx, tx, sess, next); err != nil {
				return err
			}
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.password.change", "user", u.ID, audit.Success, nil))
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Now is the time by the service's clock (the one session lifetimes are
// measured by).
func (s *Service) Now() time.Time { return s.clock.Now() }

// SessionDeadline is when sess ends if it is not used again: its absolute
// end, or its idle timeout from when it was last seen.
func (s *Service) SessionDeadline(sess *Session) time.Time {
	idle := sess.LastSeen.Add(s.cfg.IdleTimeout)
	if idle.Before(sess.ExpiresAt) {
		return idle
	}
	return sess.ExpiresAt
}
