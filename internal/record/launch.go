package record

import (
	"context"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// LaunchSessions opens a portal session for a launched person
// (auth.Service.NewLaunchSessionTx).
type LaunchSessions interface {
	NewLaunchSessionTx(ctx context.Context, tx *store.Tx, who audit.Who, userID string) (token, hash string, err error)
}

// ClinicalSystem is a partner's clinical system that may launch the viewer.
type ClinicalSystem struct {
	ID             string    `json:"id"` // the issuer (iss) of its launch tokens
	OrganisationID string    `json:"organisation_id"`
	Name           string    `json:"name"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
}

// CreateClinicalSystem registers a clinical system and the public keys its
// launch tokens are signed with. Callers: programme administrators.
// Errors: Forbidden, Invalid.
func (s *Service) CreateClinicalSystem(ctx context.Context, p *authz.Principal, in ClientInput) (*ClinicalSystem, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	if _, err := parseJWKS(in.JWKS); err != nil {
		return nil, err
	}
	cs := &ClinicalSystem{ID: "cgl_" + ident.New(), OrganisationID: in.OrganisationID, Status: "active", CreatedAt: s.clock.Now()}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.checkOrg(ctx, tx, &in); err != nil {
			return err
		}
		cs.Name = in.Name
		if _, err := tx.Exec(ctx, `INSERT INTO record_clinical_systems (id, organisation_id, name, jwks, status, created_by, created_at)
			VALUES (?, ?, ?, ?, 'active', ?, ?)`, cs.ID, cs.OrganisationID, cs.Name, string(in.JWKS), p.UserID, cs.CreatedAt.UnixMicro()); err != nil {
			return errs.Wrap(err, "create clinical system")
		}
		return s.audit.Record(ctx, tx, audit.New(p.Who(), "record.clinical_system.create", "record_clinical_system", cs.ID, audit.Success,
			map[string]string{"organisation_id": cs.OrganisationID, "name": cs.Name}))
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// ClinicalSystems lists the registered clinical systems.
// Callers: programme administrators. Errors: Forbidden.
func (s *Service) ClinicalSystems(ctx context.Context, p *authz.Principal) ([]ClinicalSystem, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, organisation_id, name, status, created_at FROM record_clinical_systems ORDER BY created_at, id`)
	if err != nil {
		return nil, errs.Wrap(err, "list clinical systems")
	}
	defer rows.Close()
	out := []ClinicalSystem{}
	for rows.Next() {
		var c ClinicalSystem
		var created int64
		if err := rows.Scan(&c.ID, &c.OrganisationID, &c.Name, &c.Status, &created); err != nil {
			return nil, errs.Wrap(err, "list clinical systems")
		}
		c.CreatedAt = time.UnixMicro(created).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// LaunchClaims are the claims of a launch token beyond the registered ones:
// the user (e-mail address or record user name) is sub, the organisation's
// ODS code is org, the patient's NHS number is patient.
type LaunchClaims struct {
	jwt.Claims
	Organisation string `json:"org"`
	Patient      string `json:"patient"`
}

// Launched is a successful launch: the new session and the patient to show.
type Launched struct {
	SessionToken string
	NHSNumber    string
}

// Launch checks a launch token from a clinical system and opens a session
// for its user on its patient. The token must be signed by a key of a
// registered, active clinical system (its iss), be for this record (aud),
// at most 5 minutes valid and not expired, and unused (its jti is kept until
// it expires, so a replay is refused on every instance). Its user must be
// an active member of the organisation named, with an active record
// account there, and pass the gate. Every outcome is audited, as a launch.
// Errors: Unauthenticated or Forbidden with the reason, Internal.
func (s *Service) Launch(ctx context.Context, who audit.Who, token string) (*Launched, error) {
	detail := map[string]string{"via": ViaLaunch}
	fail := func(code errs.Code, why string) error {
		detail["reason"] = why
		s.auditRefused(ctx, audit.New(who, "record.launch", "patient", detail["patient"], audit.Refused, detail))
		return errs.E(code, "The launch was refused: %s.", why)
	}
	tok, err := jwt.ParseSigned(strings.TrimSpace(token), signingAlgs)
	if err != nil {
		return nil, fail(errs.Unauthenticated, "the launch token is not a signed JWT of an accepted algorithm")
	}
	var c LaunchClaims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return nil, fail(errs.Unauthenticated, "the launch token's claims cannot be read")
	}
	detail["system"], detail["user"], detail["organisation"], detail["patient"] = c.Issuer, c.Subject, c.Organisation, NormaliseNHSNumber(c.Patient)
	var jwks, systemOrg, systemODS string
	err = s.db.QueryRow(ctx, `SELECT cs.jwks, o.id, o.ods_code FROM record_clinical_systems cs JOIN organisations o ON o.id = cs.organisation_id
		WHERE cs.id = ? AND cs.status = 'active'`, c.Issuer).Scan(&jwks, &systemOrg, &systemODS)
	if store.IsNoRows(err) {
		return nil, fail(errs.Unauthenticated, "the clinical system (iss) is not registered")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load clinical system")
	}
	set, err := parseJWKS([]byte(jwks))
	if err != nil {
		return nil, errs.Wrap(err, "clinical system keys")
	}
	c = LaunchClaims{}
	if err := tok.Claims(set, &c); err != nil {
		return nil, fail(errs.Unauthenticated, "the launch token's signature is not valid")
	}
	if why := s.checkTimes(c.Claims, s.cfg.LaunchAudience); why != "" {
		return nil, fail(errs.Unauthenticated, why)
	}
	if !strings.EqualFold(c.Organisation, systemODS) {
		return nil, fail(errs.Forbidden, "the clinical system may launch only for its own organisation")
	}
	nhs := NormaliseNHSNumber(c.Patient)
	if !ValidNHSNumber(nhs) {
		return nil, fail(errs.Unauthenticated, "the patient claim is not a valid NHS number")
	}
	if err := s.useJTI(ctx, "launch "+c.Issuer+" "+c.ID, c.Expiry.Time()); err != nil {
		if errs.CodeOf(err) == errs.Internal {
			return nil, err
		}
		return nil, fail(errs.Unauthenticated, "the launch token has already been used")
	}
	// The user: an active member of a site of that organisation, with an
	// active record account of that organisation.
	var userID, email string
	sub := strings.ToLower(strings.TrimSpace(c.Subject))
	err = s.db.QueryRow(ctx, `SELECT u.id, u.email FROM users u JOIN record_accounts ra ON ra.user_id = u.id
		WHERE (u.email = ? OR ra.username = ?) AND u.status = 'active' AND ra.organisation_id = ?
		AND EXISTS (SELECT 1 FROM memberships m JOIN sites st ON st.id = m.site_id WHERE m.user_id = u.id AND m.status = 'active' AND st.organisation_id = ?)`,
		sub, sub, systemOrg, systemOrg).Scan(&userID, &email)
	if store.IsNoRows(err) {
		return nil, fail(errs.Forbidden, "the user is not an active member of "+systemODS+" with a record account")
	}
	if err != nil {
		return nil, errs.Wrap(err, "find launched user")
	}
	who.UserID, who.Email = userID, email
	p := &authz.Principal{UserID: userID, Email: email, IP: who.IP, UserAgent: who.UserAgent}
	v, err := s.gate(ctx, p, ViaLaunch)
	if err != nil {
		return nil, fail(errs.Forbidden, strings.TrimSuffix(errs.As(err).Message, "."))
	}
	out := &Launched{NHSNumber: nhs}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		token, hash, err := s.sessions.NewLaunchSessionTx(ctx, tx, who, userID)
		if err != nil {
			return err
		}
		out.SessionToken = token
		if _, err := tx.Exec(ctx, `INSERT INTO record_launch_sessions (session_hash, system_id, nhs_number, created_at) VALUES (?, ?, ?, ?)`,
			hash, c.Issuer, nhs, s.clock.Now().UnixMicro()); err != nil {
			return errs.Wrap(err, "record launch session")
		}
		return s.audit.Record(ctx, tx, s.event(p, v, "record.launch", nhs, audit.Success, map[string]string{"system": c.Issuer}))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ViaOf says how a view of a patient in a session came about: ViaLaunch
// when a clinical system opened the session on that patient, ViaSearch for
// anything else (other patients looked up after a launch are searched for,
// and audited so). nhs is "" for a search.
func (s *Service) ViaOf(ctx context.Context, sessionHash, nhs string) string {
	if sessionHash == "" || nhs == "" {
		return ViaSearch
	}
	// A session's launched patient never changes, so it is remembered (for
	// a bounded number of sessions; the memo is emptied when full).
	launched, ok := s.vias.Load(sessionHash)
	if !ok {
		var n string
		err := s.db.QueryRow(ctx, `SELECT nhs_number FROM record_launch_sessions WHERE session_hash = ?`, sessionHash).Scan(&n)
		if err != nil && !store.IsNoRows(err) {
			return ViaSearch
		}
		if s.nvias.Add(1) > maxVias {
			s.vias.Clear()
			s.nvias.Store(0)
		}
		s.vias.Store(sessionHash, n)
		launched = n
	}
	if launched.(string) == nhs {
		return ViaLaunch
	}
	return ViaSearch
}

// maxVias bounds the sessions whose origin is remembered.
const maxVias = 50000
