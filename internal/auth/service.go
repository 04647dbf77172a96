package auth

import (
	"context"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Config holds the sign-in rules; zero fields take the defaults.
type Config struct {
	IdleTimeout      time.Duration // session ends after this long unused (30 min)
	AbsoluteLifetime time.Duration // session ends this long after sign-in (12 h)
	MaxFailures      int           // failed attempts before an account is locked (5)
	LockoutFor       time.Duration // how long a lock lasts (15 min)
	IPFailures       int           // failed attempts from one address per window (50)
	IPWindow         time.Duration // (15 min)
	SetupLinkFor     time.Duration // validity of one-time set-up links (24 h)
	Hash             HashParams
	Issuer           string // shown in authenticator apps ("CareGate")
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.IdleTimeout, 30*time.Minute)
	def(&c.AbsoluteLifetime, 12*time.Hour)
	def(&c.LockoutFor, 15*time.Minute)
	def(&c.IPWindow, 15*time.Minute)
	def(&c.SetupLinkFor, 24*time.Hour)
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.IPFailures == 0 {
		c.IPFailures = 50
	}
	if c.Hash.Time == 0 {
		c.Hash = DefaultHashParams
	}
	if c.Issuer == "" {
		c.Issuer = "CareGate"
	}
}

// Service implements accounts and sign-in.
type Service struct {
	db    *store.DB
	log   *audit.Log
	clock clock.Clock
	cfg   Config
	dummy string // a hash to check against when the account does not exist
}

// NewService returns the accounts service.
func NewService(db *store.DB, log *audit.Log, c clock.Clock, cfg Config) *Service {
	cfg.defaults()
	dummy, _ := HashPassword("not-a-real-password-"+ident.New(), cfg.Hash)
	return &Service{db: db, log: log, clock: c, cfg: cfg, dummy: dummy}
}

// Config returns the service's effective configuration.
func (s *Service) Config() Config { return s.cfg }

// NewUser is the input to CreateUser.
type NewUser struct {
	Email      string   `json:"email"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Roles      []string `json:"roles"`
	Password   string   `json:"password,omitempty"` // optional; otherwise a set-up link is needed
	// PasswordHash is a password already checked and hashed with
	// HashNewPassword (so that the slow hash runs outside the transaction).
	PasswordHash string `json:"-"`
}

// Validate checks the fields of a new user.
func (n *NewUser) Validate() error {
	var v errs.Validation
	email, ok := NormaliseEmail(n.Email)
	if !ok {
		v.Add("email", "Enter a valid e-mail address, like name@nhs.net")
	}
	n.Email = email
	n.GivenName, n.FamilyName = strings.TrimSpace(n.GivenName), strings.TrimSpace(n.FamilyName)
	v.Text("given_name", "First name", n.GivenName, true, 100)
	v.Text("family_name", "Last name", n.FamilyName, true, 100)
	for _, r := range n.Roles {
		if !validRole(r) {
			v.Add("roles", "Unknown role %q: choose from %s", r, strings.Join(GlobalRoles, ", "))
		}
	}
	if n.Password != "" {
		if why := CheckPasswordStrength(n.Password, n.Email, n.GivenName, n.FamilyName); why != "" {
			v.Add("password", "%s", why)
		}
	}
	return v.Err()
}

func validRole(r string) bool {
	for _, g := range GlobalRoles {
		if r == g {
			return true
		}
	}
	return false
}

// CreateUser adds a portal account. Callers: administrators, the command line
// and other services (invitations, access requests) through CreateUserTx.
// Errors: Invalid, Conflict (e-mail in use).
func (s *Service) CreateUser(ctx context.Context, who audit.Who, n NewUser) (*User, error) {
	var u *User
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		u, err = s.CreateUserTx(ctx, tx, who, n)
		return err
	})
	return u, err
}

// CreateUserTx is CreateUser inside the caller's transaction.
func (s *Service) CreateUserTx(ctx context.Context, tx *store.Tx, who audit.Who, n NewUser) (*User, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	hash := n.PasswordHash
	if hash == "" && n.Password != "" {
		var err error
		if hash, err = HashPassword(n.Password, s.cfg.Hash); err != nil {
			return nil, errs.Wrap(err, "hash password")
		}
	}
	now := s.clock.Now().UnixMicro()
	u := &User{ID: ident.New(), Email: n.Email, GivenName: n.GivenName, FamilyName: n.FamilyName, Status: StatusActive,
		Roles: append([]string{}, n.Roles...), CreatedAt: time.UnixMicro(now).UTC()}
	_, err := tx.Exec(ctx, `INSERT INTO users (id, email, given_name, family_name, status, password_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Email, u.GivenName, u.FamilyName, u.Status, hash, now, now)
	if store.IsUniqueViolation(err) {
		return nil, &errs.Error{Code: errs.Conflict, Message: "An account with this e-mail address already exists",
			Fields: []errs.FieldError{{Field: "email", Message: "An account with this e-mail address already exists"}}}
	}
	if err != nil {
		return nil, errs.Wrap(err, "insert user")
	}
	for _, r := range n.Roles {
		if _, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING`, u.ID, r); err != nil {
			return nil, errs.Wrap(err, "insert role")
		}
	}
	ev := audit.New(who, "user.create", "user", u.ID, audit.Success, map[string]string{"email": u.Email, "roles": strings.Join(n.Roles, ",")})
	if err := s.log.Record(ctx, tx, ev); err != nil {
		return nil, errs.Wrap(err, "audit")
	}
	return u, nil
}

// User returns a user by id. Errors: NotFound.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	return getUser(ctx, s.db, "id = ?", id)
}

// UserByEmail returns a user by e-mail address. Errors: NotFound.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	e, _ := NormaliseEmail(email)
	return getUser(ctx, s.db, "email = ?", e)
}

// ListUsers returns users whose e-mail or name contains q (all when empty),
// ordered by e-mail, at most limit.
func (s *Service) ListUsers(ctx context.Context, q string, limit int) ([]*User, error) {
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	like := "%" + strings.ToLower(strings.TrimSpace(q)) + "%"
	rows, err := s.db.Query(ctx, `SELECT `+userColumns+` FROM users u
		WHERE email LIKE ? OR LOWER(given_name || ' ' || family_name) LIKE ? ORDER BY email LIMIT ?`, like, like, limit)
	if err != nil {
		return nil, errs.Wrap(err, "list users")
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan user")
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "list users")
	}
	return out, nil
}

// SetRoles replaces a user's region-wide roles. Callers: administrators.
// Errors: NotFound, Invalid, Conflict (removing the last administrator).
func (s *Service) SetRoles(ctx context.Context, who audit.Who, userID string, roles []string) error {
	for _, r := range roles {
		if !validRole(r) {
			return &errs.Error{Code: errs.Invalid, Message: "Unknown role " + r,
				Fields: []errs.FieldError{{Field: "roles", Message: "Choose from " + strings.Join(GlobalRoles, ", ")}}}
		}
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		u, err := getUser(ctx, tx, "id = ?", userID)
		if err != nil {
			return err
		}
		if u.HasRole(RoleAdmin) && !contains(roles, RoleAdmin) {
			if err := s.keepOneAdmin(ctx, tx, userID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = ?`, userID); err != nil {
			return errs.Wrap(err, "clear roles")
		}
		for _, r := range roles {
			if _, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, r); err != nil {
				return errs.Wrap(err, "insert role")
			}
		}
		return s.log.Record(ctx, tx, audit.New(who, "user.roles", "user", userID, audit.Success,
			map[string]string{"before": strings.Join(u.Roles, ","), "after": strings.Join(roles, ",")}))
	})
}

func (s *Service) keepOneAdmin(ctx context.Context, tx *store.Tx, exceptID string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM user_roles r JOIN users u ON u.id = r.user_id
		WHERE r.role = ? AND u.status = ? AND u.id <> ?`, RoleAdmin, StatusActive, exceptID).Scan(&n); err != nil {
		return errs.Wrap(err, "count admins")
	}
	if n == 0 {
		return errs.E(errs.Conflict, "This is the last active administrator: appoint another before removing this one")
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// SetStatus activates or deactivates an account. Deactivation ends the
// person's sessions and revokes their API tokens in the same transaction, so
// access stops at once. Callers: administrators. Errors: NotFound, Invalid,
// Conflict (last administrator).
func (s *Service) SetStatus(ctx context.Context, who audit.Who, userID, status string) error {
	if status != StatusActive && status != StatusDeactivated {
		return &errs.Error{Code: errs.Invalid, Message: "Status must be active or deactivated",
			Fields: []errs.FieldError{{Field: "status", Message: "Choose active or deactivated"}}}
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.SetStatusTx(ctx, tx, who, userID, status)
	})
}

// SetStatusTx is SetStatus inside the caller's transaction.
func (s *Service) SetStatusTx(ctx context.Context, tx *store.Tx, who audit.Who, userID, status string) error {
	u, err := getUser(ctx, tx, "id = ?", userID)
	if err != nil {
		return err
	}
	if u.Status == status {
		return nil
	}
	if status == StatusDeactivated && u.HasRole(RoleAdmin) {
		if err := s.keepOneAdmin(ctx, tx, userID); err != nil {
			return err
		}
	}
	now := s.clock.Now().UnixMicro()
	if _, err := tx.Exec(ctx, `UPDATE users SET status = ?, updated_at = ? WHERE id = ?`, status, now, userID); err != nil {
		return errs.Wrap(err, "update status")
	}
	if status == StatusDeactivated {
		if err := s.RevokeAllTx(ctx, tx, userID); err != nil {
			return err
		}
	}
	action := "user.activate"
	if status == StatusDeactivated {
		action = "user.deactivate"
	}
	return s.log.Record(ctx, tx, audit.New(who, action, "user", userID, audit.Success, map[string]string{"email": u.Email}))
}

// RevokeAllTx ends every session and API token of a user.
func (s *Service) RevokeAllTx(ctx context.Context, tx *store.Tx, userID string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return errs.Wrap(err, "revoke sessions")
	}
	if _, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0`, s.clock.Now().UnixMicro(), userID); err != nil {
		return errs.Wrap(err, "revoke tokens")
	}
	return nil
}
