package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"github.com/caregate/caregate/internal/store"
)

// oneTimePrefix marks a one-time password's hash. One-time passwords are
// long random strings issued by the back office, so a fast hash is enough
// to keep them from being read back; the argon2id cost is paid when the
// person chooses their own password at first sign-in. This keeps bulk
// completion of hundreds of new-user requests fast.
const oneTimePrefix = "otp$sha256$"

// oneTimeAlphabet avoids characters that are easily confused when read out
// or typed from an e-mail (0/O, 1/l/I).
const oneTimeAlphabet = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789"

func checkOneTime(encoded, pw string) bool {
	want, err := hex.DecodeString(encoded[len(oneTimePrefix):])
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(pw))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// newOneTimePassword returns 16 characters from a 50-letter alphabet: about
// 90 bits, in groups of four for reading.
func newOneTimePassword() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	out := make([]byte, 0, 19)
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, oneTimeAlphabet[int(c)%len(oneTimeAlphabet)])
	}
	return string(out)
}

// SetOneTimePasswordTx gives a user a new random one-time password, inside
// the caller's transaction, and returns it for the credentials e-mail. The
// next sign-in with it must choose a new password (and set up MFA if it is
// not set up yet). The caller audits the change it belongs to.
func (s *Service) SetOneTimePasswordTx(ctx context.Context, tx *store.Tx, userID string) (string, error) {
	pws, err := s.SetOneTimePasswordsTx(ctx, tx, []string{userID})
	if err != nil {
		return "", err
	}
	return pws[0], nil
}
