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

// TokenPrefix starts every API token, so that a leaked token is recognisable
// by secret scanners.
const TokenPrefix = "cgt_"

// APIToken describes an API token; the secret itself is shown only once.
type APIToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreateToken issues an API token for a user and returns its secret. Callers:
// the user themself, administrators, the command line. Errors: NotFound,
// Invalid, Conflict (account deactivated).
func (s *Service) CreateToken(ctx context.Context, who audit.Who, userID, name string) (string, *APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "API token"
	}
	if len([]rune(name)) > 100 || strings.ContainsAny(name, "<>\r\n") {
		return "", nil, &errs.Error{Code: errs.Invalid, Message: "Token name must be 100 characters or fewer, without < > or line breaks",
			Fields: []errs.FieldError{{Field: "name", Message: "Use 100 characters or fewer, without < > or line breaks"}}}
	}
	secret := TokenPrefix + ident.Secret("")
	now := s.clock.Now()
	t := &APIToken{ID: ident.New(), UserID: userID, Name: name, CreatedAt: now}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		u, err := getUser(ctx, tx, "id = ?", userID)
		if err != nil {
			return err
		}
		if u.Status != StatusActive {
			return errs.E(errs.Conflict, "The account is deactivated")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.ID, userID, name, ident.Hash(secret), now.UnixMicro()); err != nil {
			return errs.Wrap(err, "insert token")
		}
		return s.log.Record(ctx, tx, audit.New(who, "token.create", "api_token", t.ID, audit.Success, map[string]string{"user": u.Email, "name": name}))
	})
	if err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Tokens lists a user's API tokens, newest first.
func (s *Service) Tokens(ctx context.Context, userID string) ([]APIToken, error) {
	rows, err := s.db.Query(ctx, `SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM api_tokens
		WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, errs.Wrap(err, "list tokens")
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		var t APIToken
		var c, u, r int64
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &c, &u, &r); err != nil {
			return nil, errs.Wrap(err, "scan token")
		}
		t.CreatedAt = time.UnixMicro(c).UTC()
		t.LastUsedAt, t.RevokedAt = optTime(u), optTime(r)
		out = append(out, t)
	}
	return out, rows.Err()
}

func optTime(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// RevokeToken revokes one of a user's tokens. Errors: NotFound.
func (s *Service) RevokeToken(ctx context.Context, who audit.Who, userID, tokenID string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at = 0`,
			s.clock.Now().UnixMicro(), tokenID, userID)
		if err != nil {
			return errs.Wrap(err, "revoke token")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "No such active token")
		}
		return s.log.Record(ctx, tx, audit.New(who, "token.revoke", "api_token", tokenID, audit.Success, nil))
	})
}

// AuthenticateToken returns the active user owning an API token. It records
// when the token was last used at most once a minute. Errors: Unauthenticated.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*User, error) {
	bad := errs.E(errs.Unauthenticated, "The API token is not valid, or has been revoked")
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, bad
	}
	h := ident.Hash(secret)
	var id string
	var revoked, used int64
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+`, t.id, t.revoked_at, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, h), &id, &revoked, &used)
	if err != nil || revoked != 0 || u.Status != StatusActive {
		return nil, bad
	}
	now := s.clock.Now()
	if now.UnixMicro()-used > time.Minute.Microseconds() {
		_, _ = s.db.Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, now.UnixMicro(), id)
	}
	return u, nil
}

// Setup-link purposes.
const PurposeSetup = "setup" // choose a password for a new account

// CreateSetupLink issues a one-time token with which a person sets their
// password (the first administrator, or an account created without one).
func (s *Service) CreateSetupLink(ctx context.Context, who audit.Who, userID string) (string, error) {
	var token string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		token, err = s.CreateSetupLinkTx(ctx, tx, who, userID)
		return err
	})
	return token, err
}

// CreateSetupLinkTx is CreateSetupLink inside the caller's transaction, so
// that an account and its link are made together or not at all.
func (s *Service) CreateSetupLinkTx(ctx context.Context, tx *store.Tx, who audit.Who, userID string) (string, error) {
	token := ident.Secret("")
	now := s.clock.Now()
	if _, err := tx.Exec(ctx, `INSERT INTO setup_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		ident.Hash(token), userID, PurposeSetup, now.UnixMicro(), now.Add(s.cfg.SetupLinkFor).UnixMicro()); err != nil {
		return "", errs.Wrap(err, "insert setup token")
	}
	if err := s.log.Record(ctx, tx, audit.New(who, "user.setup_link", "user", userID, audit.Success, nil)); err != nil {
		return "", err
	}
	return token, nil
}

// SetupUser returns the account a valid set-up link is for. Errors: NotFound
// (unknown, used or expired link).
func (s *Service) SetupUser(ctx context.Context, token string) (*User, error) {
	var userID string
	var expires, used int64
	err := s.db.QueryRow(ctx, `SELECT user_id, expires_at, used_at FROM setup_tokens WHERE token_hash = ?`, ident.Hash(token)).Scan(&userID, &expires, &used)
	if err != nil || used != 0 || s.clock.Now().UnixMicro() >= expires {
		return nil, errs.E(errs.NotFound, "This set-up link is not valid: it may have been used already or have expired. Ask an administrator for a new one.")
	}
	return s.User(ctx, userID)
}

// CompleteSetup sets the password through a one-time link and uses the link
// up. The person then signs in and enrols MFA. Errors: NotFound, Invalid.
func (s *Service) CompleteSetup(ctx context.Context, who audit.Who, token, password string) (*User, error) {
	u, err := s.SetupUser(ctx, token)
	if err != nil {
		return nil, err
	}
	if why := CheckPasswordStrength(password, u.Email, u.GivenName, u.FamilyName); why != "" {
		return nil, &errs.Error{Code: errs.Invalid, Message: why, Fields: []errs.FieldError{{Field: "password", Message: why}}}
	}
	hash, err := HashPassword(password, s.cfg.Hash)
	if err != nil {
		return nil, errs.Wrap(err, "hash")
	}
	who.UserID, who.Email = u.ID, u.Email
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND used_at = 0`, s.clock.Now().UnixMicro(), ident.Hash(token))
		if err != nil {
			return errs.Wrap(err, "use setup token")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "This set-up link has already been used")
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, must_change_password = 0, updated_at = ? WHERE id = ?`,
			hash, s.clock.Now().UnixMicro(), u.ID); err != nil {
			return errs.Wrap(err, "set password")
		}
		return s.log.Record(ctx, tx, audit.New(who, "user.setup", "user", u.ID, audit.Success, nil))
	})
	return u, err
}

// SetPassword sets a password directly (command line, demo loading).
func (s *Service) SetPassword(ctx context.Context, who audit.Who, userID, password string) error {
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	if why := CheckPasswordStrength(password, u.Email, u.GivenName, u.FamilyName); why != "" {
		return &errs.Error{Code: errs.Invalid, Message: why, Fields: []errs.FieldError{{Field: "password", Message: why}}}
	}
	hash, err := HashPassword(password, s.cfg.Hash)
	if err != nil {
		return errs.Wrap(err, "hash")
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, s.clock.Now().UnixMicro(), userID); err != nil {
			return errs.Wrap(err, "set password")
		}
		return s.log.Record(ctx, tx, audit.New(who, "auth.password.set", "user", userID, audit.Success, nil))
	})
}

// CountUsers returns how many accounts exist; zero means the first
// administrator must be set up.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// HashNewPassword checks a new password against the strength rule and the
// person's own details and hashes it. It runs outside any transaction:
// argon2id is slow by design and must not hold the database's write lock.
// Errors: Invalid (on field "password").
func (s *Service) HashNewPassword(password string, personal ...string) (string, error) {
	if why := CheckPasswordStrength(password, personal...); why != "" {
		return "", &errs.Error{Code: errs.Invalid, Message: why, Fields: []errs.FieldError{{Field: "password", Message: why}}}
	}
	hash, err := HashPassword(password, s.cfg.Hash)
	if err != nil {
		return "", errs.Wrap(err, "hash")
	}
	return hash, nil
}

// SetPasswordHashTx stores a hash made by HashNewPassword as the person's
// password, in the caller's transaction (accepting an invitation).
func (s *Service) SetPasswordHashTx(ctx context.Context, tx *store.Tx, who audit.Who, userID, hash string) error {
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, must_change_password = 0, updated_at = ? WHERE id = ?`,
		hash, s.clock.Now().UnixMicro(), userID); err != nil {
		return errs.Wrap(err, "set password")
	}
	return s.log.Record(ctx, tx, audit.New(who, "auth.password.set", "user", userID, audit.Success, nil))
}
