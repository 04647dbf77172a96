package auth_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/auth"
)

// phc is the PHC string format of an argon2id hash with a 16-byte salt and a
// 32-byte key, both unpadded standard base64.
var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range []auth.HashParams{cheap, auth.DefaultHashParams} {
		h, err := auth.HashPassword(goodPassword, p)
		if err != nil {
			t.Fatal(err)
		}
		m := phc.FindStringSubmatch(h)
		if m == nil {
			t.Fatalf("hash %q is not in PHC argon2id format", h)
		}
		if want := []string{strconv.Itoa(int(p.MemoryKiB)), strconv.Itoa(int(p.Time)), strconv.Itoa(int(p.Threads))}; m[1] != want[0] || m[2] != want[1] || m[3] != want[2] {
			t.Errorf("hash %q records m,t,p = %v, want %v", h, m[1:], want)
		}
		if !auth.CheckPassword(h, goodPassword) {
			t.Errorf("CheckPassword refused the right password for %q", h)
		}
		for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", goodPassword + " "} {
			if auth.CheckPassword(h, wrong) {
				t.Errorf("CheckPassword accepted %q", wrong)
			}
		}
	}
}

func TestDefaultHashParamsAreOWASPMinimum(t *testing.T) {
	t.Parallel()
	if p := auth.DefaultHashParams; p.MemoryKiB < 19*1024 || p.Time < 2 || p.Threads < 1 {
		t.Fatalf("DefaultHashParams %+v are below OWASP's argon2id minimum (19 MiB, t=2, p=1)", p)
	}
}

func TestHashPasswordSaltsEachHash(t *testing.T) {
	t.Parallel()
	a, _ := auth.HashPassword(goodPassword, cheap)
	b, _ := auth.HashPassword(goodPassword, cheap)
	if a == b {
		t.Fatal("two hashes of the same password are equal: the salt is not random")
	}
	if !auth.CheckPassword(a, goodPassword) || !auth.CheckPassword(b, goodPassword) {
		t.Fatal("a salted hash does not verify")
	}
}

func TestCheckPasswordRefusesMalformedHashes(t *testing.T) {
	t.Parallel()
	good, _ := auth.HashPassword(goodPassword, cheap)
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"empty":          "",
		"plain text":     goodPassword,
		"bcrypt":         "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":        strings.Replace(good, "$argon2id$", "$argon2i$", 1),
		"missing key":    strings.Join(parts[:5], "$"),
		"empty key":      strings.Join(append(parts[:5:5], ""), "$"),
		"bad salt":       strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"bad key":        strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "***"}, "$"),
		"bad params":     strings.Join([]string{"", parts[1], parts[2], "m=x,t=y,p=z", parts[4], parts[5]}, "$"),
		"zero time":      strings.Join([]string{"", parts[1], parts[2], "m=64,t=0,p=1", parts[4], parts[5]}, "$"),
		"zero threads":   strings.Join([]string{"", parts[1], parts[2], "m=64,t=1,p=0", parts[4], parts[5]}, "$"),
		"other params":   strings.Join([]string{"", parts[1], parts[2], "m=128,t=1,p=1", parts[4], parts[5]}, "$"),
		"trailing field": good + "$extra",
	} {
		t.Run(name, func(t *testing.T) {
			if auth.CheckPassword(enc, goodPassword) {
				t.Fatalf("CheckPassword(%q) accepted the password", enc)
			}
		})
	}
}

func TestCheckPasswordStrength(t *testing.T) {
	t.Parallel()
	const (
		tooShort  = "Password must be at least 12 characters long"
		tooLong   = "Password must be at most 256 characters long"
		tooCommon = "Password is too common: choose one that is not on lists of frequently used passwords"
		tooEasy   = "Password is too easy to guess: avoid repeated characters and simple sequences"
		personal  = "Password must not contain your name or e-mail address"
	)
	person := []string{"Jane.Smith@NHS.net", "Jane", "Smith"}
	for _, c := range []struct {
		name, pw string
		personal []string
		want     string
	}{
		{"empty", "", nil, tooShort},
		{"eleven characters", "Tr0ub4dor&3", nil, tooShort},
		{"eleven runes in 22 bytes", strings.Repeat("é", 11), nil, tooShort},
		{"twelve characters", "Tr0ub4dor&3x", nil, ""},
		{"twelve runes", "ünïcødé-pässwörd", nil, ""},
		{"256 characters", strings.Repeat("abcdefghij", 25) + "klmnop", nil, ""},
		{"257 characters", strings.Repeat("abcdefghij", 25) + "klmnopq", nil, tooLong},
		{"on the common list", "1qaz2wsx2024", nil, tooCommon},
		{"on the common list, other case", "1QAZ2WSX2024", nil, tooCommon},
		{"one repeated character", "zzzzzzzzzzzzzz", nil, tooEasy},
		{"ascending run", "abcdefghijklmn", nil, tooEasy},
		{"descending run", "zyxwvutsrqpo", nil, tooEasy},
		{"two characters repeated", "xyxyxyxyxyxyxy", nil, tooEasy},
		{"three characters repeated", "qwrqwrqwrqwrqwr", nil, tooEasy},
		{"four distinct characters", "qwrtqwrtqwrtqwrt", nil, ""},
		{"contains the family name", "SmithsonianTrip-42", person, personal},
		{"contains the given name, other case", "mr-JANE-is-here-99", person, personal},
		{"contains the e-mail local part", "my jane.smith horse", person, personal},
		{"short names are not checked", "Lighthouse-keeper-97", []string{"li@nhs.net", "Li", "Wu"}, ""},
		{"the e-mail domain is not personal", "nhs.net-is-my-employer", person, ""},
		{"strong", goodPassword, person, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := auth.CheckPasswordStrength(c.pw, c.personal...); got != c.want {
				t.Fatalf("CheckPasswordStrength(%q) = %q, want %q", c.pw, got, c.want)
			}
		})
	}
}
