// Package ident makes opaque identifiers and secret tokens. Identifiers are
// random, so they reveal neither order nor count; secrets are stored only as
// their SHA-256 (see Hash), so a copy of the database does not yield them.
package ident

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// New returns a random identifier: 26 lower-case base32 characters (128 bits).
func New() string { return random(16) }

// Secret returns a random token with the given prefix and 256 bits of
// entropy, e.g. "cg_" for API tokens.
func Secret(prefix string) string { return prefix + random(32) }

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // cannot continue safely
	}
	return strings.ToLower(enc.EncodeToString(b))
}

// Hash returns the hex SHA-256 of a secret token, the form in which tokens
// are stored and looked up. Tokens are 256-bit random values, so a fast hash
// is enough (no password-style stretching needed).
func Hash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}
