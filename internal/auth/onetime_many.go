package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// oneTimeHash is how a one-time password is stored.
func oneTimeHash(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return oneTimePrefix + hex.EncodeToString(sum[:])
}

// CreateUsersWithOneTimePasswordsTx creates people who have no portal
// account yet, each with a one-time password as SetOneTimePasswordTx would
// give them, in the caller's transaction and in a few statements however
// many there are: the back office's bulk completion of new-user requests.
// Each is checked and audited as CreateUserTx does; they take no roles and
// no password of their own. It returns the users and their passwords, in
// order, and writes nothing when any is refused. Errors: Invalid, Conflict
// (an e-mail address in use).
func (s *Service) CreateUsersWithOneTimePasswordsTx(ctx context.Context, tx *store.Tx, who audit.Who, ns []NewUser) ([]*User, []string, error) {
	now := s.clock.Now().UnixMicro()
	users := make([]*User, len(ns))
	pws := make([]string, len(ns))
	rows := make([]any, 0, 9*len(ns))
	for i, n := range ns {
		if len(n.Roles) > 0 || n.Password != "" || n.PasswordHash != "" {
			return nil, nil, errs.E(errs.Invalid, "People created with a one-time password take no roles or password of their own")
		}
		if err := n.Validate(); err != nil {
			return nil, nil, err
		}
		u := &User{ID: ident.New(), Email: n.Email, GivenName: n.GivenName, FamilyName: n.FamilyName, Status: StatusActive,
			Roles: []string{}, MustChangePassword: true, CreatedAt: time.UnixMicro(now).UTC()}
		users[i], pws[i] = u, newOneTimePassword()
		rows = append(rows, u.ID, u.Email, u.GivenName, u.FamilyName, u.Status, oneTimeHash(pws[i]), 1, now, now)
	}
	_, err := tx.ExecRows(ctx, `INSERT INTO users (id, email, given_name, family_name, status, password_hash, must_change_password, created_at, updated_at)
		VALUES `, nil, 9, rows, "")
	if store.IsUniqueViolation(err) {
		return nil, nil, errs.E(errs.Conflict, "An account with one of these e-mail addresses already exists")
	}
	if err != nil {
		return nil, nil, errs.Wrap(err, "insert users")
	}
	for _, u := range users {
		if err := s.log.Record(ctx, tx, audit.New(who, "user.create", "user", u.ID, audit.Success, map[string]string{"email": u.Email, "roles": ""})); err != nil {
			return nil, nil, errs.Wrap(err, "audit")
		}
	}
	return users, pws, nil
}

// SetOneTimePasswordsTx is SetOneTimePasswordTx for many users at once, in
// one statement: it returns their new passwords in order. Errors: NotFound
// when any of them does not exist.
func (s *Service) SetOneTimePasswordsTx(ctx context.Context, tx *store.Tx, userIDs []string) ([]string, error) {
	pws := make([]string, len(userIDs))
	rows := make([]any, 0, 2*len(userIDs))
	for i, id := range userIDs {
		pws[i] = newOneTimePassword()
		rows = append(rows, id, oneTimeHash(pws[i]))
	}
	n, err := tx.ExecRows(ctx, `UPDATE users SET password_hash = v.column2, must_change_password = 1, failed_logins = 0, locked_until = 0, updated_at = ?
		FROM (VALUES `, []any{s.clock.Now().UnixMicro()}, 2, rows, `) AS v WHERE users.id = v.column1`)
	if err != nil {
		return nil, errs.Wrap(err, "set one-time passwords")
	}
	if n != int64(len(userIDs)) {
		return nil, errs.E(errs.NotFound, "No such account")
	}
	return pws, nil
}
