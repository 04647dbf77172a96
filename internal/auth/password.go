package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// HashParams are the argon2id cost parameters. The defaults are OWASP's
// minimum (19 MiB, 2 passes, 1 lane); about 30 ms a hash on this hardware.
type HashParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultHashParams is used in production.
var DefaultHashParams = HashParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// HashPassword returns a PHC-format argon2id hash of pw with a random salt.
func HashPassword(pw string, p HashParams) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the encoded hash, in constant time.
func CheckPassword(encoded, pw string) bool {
	if strings.HasPrefix(encoded, oneTimePrefix) {
		return checkOneTime(encoded, pw)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false
	}
	if p.Time == 0 || p.Threads == 0 {
		return false // argon2.IDKey panics on these: a damaged hash must refuse, not crash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

//go:embed common_passwords.txt
var commonPasswordsText string

var (
	commonOnce sync.Once
	common     map[string]bool
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// CheckPasswordStrength returns a user-facing reason why pw is not strong
// enough, or "" when it is. email and names are refused as passwords too.
func CheckPasswordStrength(pw string, personal ...string) string {
	if len([]rune(pw)) < MinPasswordLength {
		return fmt.Sprintf("Password must be at least %d characters long", MinPasswordLength)
	}
	if len(pw) > 256 {
		return "Password must be at most 256 characters long"
	}
	commonOnce.Do(func() {
		common = map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
		for sc.Scan() {
			if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
				common[strings.ToLower(w)] = true
			}
		}
	})
	low := strings.ToLower(pw)
	if common[low] {
		return "Password is too common: choose one that is not on lists of frequently used passwords"
	}
	// A single repeated character, or a run like "abcdefghijkl" or "123456789012".
	if isMonotone(low) {
		return "Password is too easy to guess: avoid repeated characters and simple sequences"
	}
	for _, p := range personal {
		p = strings.ToLower(strings.TrimSpace(p))
		if at := strings.IndexByte(p, '@'); at > 0 {
			p = p[:at]
		}
		if len(p) >= 4 && strings.Contains(low, p) {
			return "Password must not contain your name or e-mail address"
		}
	}
	return ""
}

func isMonotone(s string) bool {
	r := []rune(s)
	same, up, down := true, true, true
	for i := 1; i < len(r); i++ {
		same = same && r[i] == r[0]
		up = up && r[i] == r[i-1]+1
		down = down && r[i] == r[i-1]-1
	}
	if same || up || down {
		return true
	}
	// Two or three characters repeated, e.g. "121212121212" or "abcabcabcabc".
	distinct := map[rune]bool{}
	for _, c := range r {
		distinct[c] = true
	}
	return len(distinct) <= 3
}
