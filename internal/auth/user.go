package auth

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// Region-wide portal roles. Site authorisers and service-desk staff are
// appointed per site or organisation (package org); a member is anyone with a
// site membership.
const (
	RoleAdmin          = "admin"           // programme team / system administrator
	RoleBackOffice     = "back_office"     // account management team
	RolePrivacyOfficer = "privacy_officer" // reviews suspected misuse
)

// GlobalRoles lists the region-wide roles in display order.
var GlobalRoles = []string{RoleAdmin, RoleBackOffice, RolePrivacyOfficer}

// User statuses.
const (
	StatusActive      = "active"
	StatusDeactivated = "deactivated"
)

// User is a person who can sign in to the portal.
type User struct {
	ID                 string    `json:"id"`
	Email              string    `json:"email"`
	GivenName          string    `json:"given_name"`
	FamilyName         string    `json:"family_name"`
	Status             string    `json:"status"`
	Roles              []string  `json:"roles"`
	MFAEnabled         bool      `json:"mfa_enabled"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`

	passwordHash string
	totpSecret   string
	totpLastStep int64
	failed       int
	lockedUntil  int64
}

// Name returns the person's full name.
func (u *User) Name() string { return strings.TrimSpace(u.GivenName + " " + u.FamilyName) }

// HasPassword reports whether u has chosen a password (or been given a
// one-time one); people created by an access request before they chose one
// have not.
func (u *User) HasPassword() bool { return u.passwordHash != "" }

// HasRole reports whether the user holds a region-wide role.
func (u *User) HasRole(r string) bool { return slices.Contains(u.Roles, r) }

// NormaliseEmail lower-cases and checks an e-mail address.
func NormaliseEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 254 || s == "" {
		return s, false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.IndexByte(s, '@')+1:], ".") {
		return s, false
	}
	return s, true
}

// userColumns are a user's columns, the table aliased u, with the
// region-wide roles aggregated into one comma-separated column: a user is
// loaded on every request, and one query is cheaper than two.
const userColumns = `u.id, u.email, u.given_name, u.family_name, u.status, u.password_hash, u.must_change_password, u.totp_secret,
	u.totp_enabled, u.totp_last_step, u.failed_logins, u.locked_until, u.created_at,
	COALESCE((SELECT string_agg(r.role, ',') FROM user_roles r WHERE r.user_id = u.id), '')`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (*User, error) {
	var u User
	var mcp, te int
	var created int64
	var roles string
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.GivenName, &u.FamilyName, &u.Status, &u.passwordHash, &mcp, &u.totpSecret, &te,
		&u.totpLastStep, &u.failed, &u.lockedUntil, &created, &roles}, extra...)...)
	if err != nil {
		return nil, err
	}
	u.MustChangePassword, u.MFAEnabled = mcp == 1, te == 1
	u.CreatedAt = time.UnixMicro(created).UTC()
	u.Roles = []string{}
	if roles != "" {
		u.Roles = strings.Split(roles, ",")
		slices.Sort(u.Roles)
	}
	return &u, nil
}

func getUser(ctx context.Context, q store.Querier, where string, arg any) (*User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE `+where, arg))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such user")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load user")
	}
	return u, nil
}
