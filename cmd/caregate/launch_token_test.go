package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/caregate/caregate/internal/record"
)

// launch-token makes a key pair, then signs a token the public key verifies,
// with the claims asked for and at most five minutes' validity.
func TestLaunchToken(t *testing.T) {
	key := filepath.Join(t.TempDir(), "epr.jwk")
	r := cli(t, "", "launch-token", "--new-key", key)
	var set jose.JSONWebKeySet
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &set) != nil || len(set.Keys) != 1 || !set.Keys[0].IsPublic() {
		t.Fatalf("new key: %s", r)
	}
	r = cli(t, "", "launch-token", "--key", key, "--iss", "cgl_epr", "--user", "amir.khan@nhs.net", "--org", "RY4", "--patient", "9434765919")
	if r.code != 0 {
		t.Fatalf("sign: %s", r)
	}
	tok, err := jwt.ParseSigned(strings.TrimSpace(r.stdout), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c record.LaunchClaims
	if err := tok.Claims(set, &c); err != nil {
		t.Fatalf("the public key does not verify the token: %v", err)
	}
	if c.Issuer != "cgl_epr" || c.Subject != "amir.khan@nhs.net" || c.Organisation != "RY4" || c.Patient != "9434765919" ||
		!c.Audience.Contains("caregate") || c.ID == "" || c.Expiry.Time().Sub(c.IssuedAt.Time()).Minutes() > 5 {
		t.Errorf("claims: %+v", c)
	}
	if r := cli(t, "", "launch-token", "--key", key); r.code != 2 || !strings.Contains(r.stderr, "are required") {
		t.Errorf("missing claims: %s", r)
	}
}
