package record

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/caregate/caregate/internal/ident"
)

// The signing side of launch tokens and client assertions: what a partner's
// system does. CareGate itself never signs one; the command line
// (`caregate launch-token`) and the tests use these.

// NewSigningKey makes an ES256 key pair with a random key id and returns the
// private JWK (JSON, to keep secret) and the public JWKS (JSON, to register).
func NewSigningKey() (private, publicJWKS []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	jwk := jose.JSONWebKey{Key: k, KeyID: ident.New()[:12], Algorithm: string(jose.ES256), Use: "sig"}
	if private, err = json.MarshalIndent(jwk, "", "  "); err != nil {
		return nil, nil, err
	}
	publicJWKS, err = json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}, "", "  ")
	return private, publicJWKS, err
}

// Sign signs claims as a compact JWT with a private JWK (JSON).
func Sign(privateJWK []byte, claims any) (string, error) {
	var k jose.JSONWebKey
	if err := json.Unmarshal(privateJWK, &k); err != nil {
		return "", fmt.Errorf("read the private key (a JWK): %w", err)
	}
	if k.IsPublic() {
		return "", fmt.Errorf("the key is a public key; signing needs the private key")
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	if alg == "" {
		alg = jose.ES256
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// NewLaunchClaims are the claims of a launch token for a user (e-mail or
// record user name) of an organisation (ODS code) on a patient, issued by a
// clinical system for an audience, valid for ttl from now.
func NewLaunchClaims(system, user, ods, nhs, audience string, now time.Time, ttl time.Duration) LaunchClaims {
	return LaunchClaims{Claims: jwt.Claims{Issuer: system, Subject: user, Audience: jwt.Audience{audience}, IssuedAt: jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(ttl)), ID: ident.New()},
		Organisation: ods, Patient: nhs}
}

// NewAssertionClaims are the claims of a private_key_jwt client assertion
// for the token endpoint at endpoint.
func NewAssertionClaims(clientID, endpoint string, now time.Time) jwt.Claims {
	return jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{endpoint}, IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute)), ID: ident.New()}
}
