package record

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Client is a partner system's machine credential for publishing data.
type Client struct {
	ID             string    `json:"id"` // the OAuth2 client_id
	OrganisationID string    `json:"organisation_id"`
	Name           string    `json:"name"`
	HasSecret      bool      `json:"has_secret"`
	HasKeys        bool      `json:"has_keys"` // a JWKS for private_key_jwt client assertions
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
}

// ClientInput registers a client or a clinical system.
type ClientInput struct {
	OrganisationID string `json:"organisation_id"`
	Name           string `json:"name"`
	// JWKS is the public key set (JSON) the system signs with. For a
	// client it is optional: without it the client gets a secret.
	JWKS json.RawMessage `json:"jwks,omitempty"`
}

// signingAlgs are the signature algorithms accepted in assertions and
// launch tokens: asymmetric only, so that the record never holds a key that
// could sign one.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// parseJWKS checks a public key set: valid JSON, at least one key, every
// key public and with a key id.
func parseJWKS(raw []byte) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		return nil, errs.E(errs.Invalid, "The JWKS must be a JSON Web Key Set with at least one key")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			return nil, errs.E(errs.Invalid, "Every key of the JWKS must be a valid public key (never send a private key)")
		}
		if k.KeyID == "" {
			return nil, errs.E(errs.Invalid, "Every key of the JWKS needs a key id (kid)")
		}
	}
	return &set, nil
}

func (s *Service) checkOrg(ctx context.Context, tx *store.Tx, in *ClientInput) error {
	var v errs.Validation
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		v.Add("name", "Enter a name of up to 200 characters")
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM organisations WHERE id = ?`, in.OrganisationID).Scan(&n); err != nil {
		return errs.Wrap(err, "check organisation")
	}
	if n == 0 {
		v.Add("organisation_id", "No such organisation")
	}
	return v.Err()
}

// CreateClient registers a partner system that publishes data for an
// organisation. Without a JWKS it is given a client secret, returned only
// here. Callers: programme administrators. Errors: Forbidden, Invalid.
func (s *Service) CreateClient(ctx context.Context, p *authz.Principal, in ClientInput) (*Client, string, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, "", err
	}
	c := &Client{ID: "cgc_" + ident.New(), OrganisationID: in.OrganisationID, Status: "active", CreatedAt: s.clock.Now()}
	var secret, hash, jwks string
	if len(in.JWKS) > 0 && string(in.JWKS) != "null" {
		if _, err := parseJWKS(in.JWKS); err != nil {
			return nil, "", err
		}
		jwks, c.HasKeys = string(in.JWKS), true
	} else {
		secret = ident.Secret("cgs_")
		hash, c.HasSecret = ident.Hash(secret), true
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.checkOrg(ctx, tx, &in); err != nil {
			return err
		}
		c.Name = in.Name
		if _, err := tx.Exec(ctx, `INSERT INTO record_clients (id, organisation_id, name, secret_hash, jwks, status, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, 'active', ?, ?)`, c.ID, c.OrganisationID, c.Name, hash, jwks, p.UserID, c.CreatedAt.UnixMicro()); err != nil {
			return errs.Wrap(err, "create client")
		}
		return s.audit.Record(ctx, tx, audit.New(p.Who(), "record.client.create", "record_client", c.ID, audit.Success,
			map[string]string{"organisation_id": c.OrganisationID, "name": c.Name, "keys": map[bool]string{true: "jwks", false: "secret"}[c.HasKeys]}))
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// Clients lists an organisation's clients ("" for every organisation).
// Callers: programme administrators. Errors: Forbidden.
func (s *Service) Clients(ctx context.Context, p *authz.Principal, orgID string) ([]Client, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, organisation_id, name, secret_hash, jwks, status, created_at FROM record_clients
		WHERE ? = '' OR organisation_id = ? ORDER BY created_at, id`, orgID, orgID)
	if err != nil {
		return nil, errs.Wrap(err, "list clients")
	}
	defer rows.Close()
	out := []Client{}
	for rows.Next() {
		var c Client
		var hash, jwks string
		var created int64
		if err := rows.Scan(&c.ID, &c.OrganisationID, &c.Name, &hash, &jwks, &c.Status, &created); err != nil {
			return nil, errs.Wrap(err, "list clients")
		}
		c.HasSecret, c.HasKeys, c.CreatedAt = hash != "", jwks != "", time.UnixMicro(created).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeClient stops a client: its tokens stop working at once.
// Callers: programme administrators. Errors: Forbidden, NotFound.
func (s *Service) RevokeClient(ctx context.Context, p *authz.Principal, id string) error {
	if err := authz.Require(p, authz.Admin); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE record_clients SET status = 'revoked', revoked_at = ? WHERE id = ? AND status = 'active'`,
			s.clock.Now().UnixMicro(), id)
		if err != nil {
			return errs.Wrap(err, "revoke client")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "No such active client")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM record_client_tokens WHERE client_id = ?`, id); err != nil {
			return errs.Wrap(err, "revoke client tokens")
		}
		return s.audit.Record(ctx, tx, audit.New(p.Who(), "record.client.revoke", "record_client", id, audit.Success, nil))
	})
}

// Token is an access token issued to a client.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

var errBadClient = errs.E(errs.Unauthenticated, "The client credentials are not valid")

// TokenForSecret issues an access token to a client that proves itself with
// its secret (OAuth2 client credentials). Errors: Unauthenticated.
func (s *Service) TokenForSecret(ctx context.Context, who audit.Who, clientID, secret string) (*Token, error) {
	var hash string
	err := s.db.QueryRow(ctx, `SELECT c.secret_hash FROM record_clients c JOIN organisations o ON o.id = c.organisation_id
		WHERE c.id = ? AND c.status = 'active' AND o.status = 'active'`, clientID).Scan(&hash)
	if err != nil && !store.IsNoRows(err) {
		return nil, errs.Wrap(err, "load client")
	}
	if hash == "" || subtle.ConstantTimeCompare([]byte(hash), []byte(ident.Hash(secret))) != 1 {
		return nil, s.refuseClient(ctx, who, clientID, "bad client secret")
	}
	return s.issue(ctx, who, clientID, "client_secret")
}

// TokenForAssertion issues an access token to a client that proves itself
// with a JWT signed by a key of its JWKS (private_key_jwt): iss and sub are
// the client id, aud the token endpoint's address, at most 5 minutes valid,
// and its jti is usable once. Errors: Unauthenticated.
func (s *Service) TokenForAssertion(ctx context.Context, who audit.Who, assertion, endpoint string) (*Token, error) {
	tok, err := jwt.ParseSigned(assertion, signingAlgs)
	if err != nil {
		return nil, s.refuseClient(ctx, who, "", "assertion is not a signed JWT")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Issuer == "" {
		return nil, s.refuseClient(ctx, who, "", "assertion has no issuer")
	}
	clientID := unverified.Issuer
	var jwks string
	err = s.db.QueryRow(ctx, `SELECT c.jwks FROM record_clients c JOIN organisations o ON o.id = c.organisation_id
		WHERE c.id = ? AND c.status = 'active' AND o.status = 'active'`, clientID).Scan(&jwks)
	if err != nil && !store.IsNoRows(err) {
		return nil, errs.Wrap(err, "load client")
	}
	if jwks == "" {
		return nil, s.refuseClient(ctx, who, clientID, "no such client with keys")
	}
	set, err := parseJWKS([]byte(jwks))
	if err != nil {
		return nil, s.refuseClient(ctx, who, clientID, "stored keys unreadable")
	}
	var c jwt.Claims
	if err := tok.Claims(set, &c); err != nil {
		return nil, s.refuseClient(ctx, who, clientID, "bad signature")
	}
	if c.Subject != clientID {
		return nil, s.refuseClient(ctx, who, clientID, "sub is not the client id")
	}
	if why := s.checkTimes(c, endpoint); why != "" {
		return nil, s.refuseClient(ctx, who, clientID, why)
	}
	if err := s.useJTI(ctx, "client "+clientID+" "+c.ID, c.Expiry.Time()); err != nil {
		return nil, s.refuseClient(ctx, who, clientID, errs.As(err).Message)
	}
	return s.issue(ctx, who, clientID, "private_key_jwt")
}

// checkTimes checks a token's audience and lifetime; it returns why not.
func (s *Service) checkTimes(c jwt.Claims, aud string) string {
	now := s.clock.Now()
	if c.Expiry == nil {
		return "the token has no expiry (exp)"
	}
	if c.ID == "" {
		return "the token has no id (jti)"
	}
	if err := c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{aud}, Time: now}, 30*time.Second); err != nil {
		switch err {
		case jwt.ErrExpired:
			return "the token has expired"
		case jwt.ErrInvalidAudience:
			return "the token is for another audience (aud)"
		case jwt.ErrNotValidYet, jwt.ErrIssuedInTheFuture:
			return "the token is not valid yet"
		}
		return "the token's claims are not valid"
	}
	if c.Expiry.Time().Sub(now) > s.cfg.LaunchMaxAge+30*time.Second {
		return "the token is valid for longer than 5 minutes"
	}
	if c.IssuedAt != nil && c.Expiry.Time().Sub(c.IssuedAt.Time()) > s.cfg.LaunchMaxAge {
		return "the token is valid for longer than 5 minutes"
	}
	return ""
}

// useJTI records a token id as used; a second use is refused. The table's
// primary key makes this hold across every instance. Expired ids are
// cleared on the way.
func (s *Service) useJTI(ctx context.Context, key string, expires time.Time) error {
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM record_launch_jtis WHERE expires_at < ?`, now.Add(-time.Minute).UnixMicro()); err != nil {
			return errs.Wrap(err, "clear used token ids")
		}
		_, err := tx.Exec(ctx, `INSERT INTO record_launch_jtis (jti, expires_at) VALUES (?, ?)`, key, expires.UnixMicro())
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Unauthenticated, "the token has already been used (replay)")
		}
		return errs.Wrap(err, "record token id")
	})
}

func (s *Service) refuseClient(ctx context.Context, who audit.Who, clientID, why string) error {
	s.auditRefused(ctx, audit.New(who, "record.client.token", "record_client", clientID, audit.Refused, map[string]string{"reason": why}))
	return errBadClient
}

func (s *Service) issue(ctx context.Context, who audit.Who, clientID, method string) (*Token, error) {
	tok := ident.Secret("cgm_")
	now := s.clock.Now()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM record_client_tokens WHERE expires_at < ?`, now.UnixMicro()); err != nil {
			return errs.Wrap(err, "clear expired tokens")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO record_client_tokens (token_hash, client_id, expires_at) VALUES (?, ?, ?)`,
			ident.Hash(tok), clientID, now.Add(s.cfg.TokenLifetime).UnixMicro()); err != nil {
			return errs.Wrap(err, "issue token")
		}
		return s.audit.Record(ctx, tx, audit.New(who, "record.client.token", "record_client", clientID, audit.Success,
			map[string]string{"method": method}))
	})
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(s.cfg.TokenLifetime / time.Second)}, nil
}

// PublisherFor returns the publisher an access token was issued to, if the
// token, its client and its organisation are all still good.
// Errors: Unauthenticated.
func (s *Service) PublisherFor(ctx context.Context, token string) (*Publisher, error) {
	if !strings.HasPrefix(token, "cgm_") {
		return nil, errs.E(errs.Unauthenticated, "Publishing needs an access token from the token endpoint")
	}
	p := &Publisher{}
	err := s.db.QueryRow(ctx, `SELECT c.id, o.id, o.ods_code FROM record_client_tokens t JOIN record_clients c ON c.id = t.client_id
		JOIN organisations o ON o.id = c.organisation_id
		WHERE t.token_hash = ? AND t.expires_at > ? AND c.status = 'active' AND o.status = 'active'`,
		ident.Hash(token), s.clock.Now().UnixMicro()).Scan(&p.ClientID, &p.OrganisationID, &p.ODS)
	if store.IsNoRows(err) {
		return nil, errs.E(errs.Unauthenticated, "The access token is not valid or has expired")
	}
	if err != nil {
		return nil, errs.Wrap(err, "check access token")
	}
	return p, nil
}
