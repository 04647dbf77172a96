package record

import "strings"

// NHSNumberSystem is the FHIR identifier system of the NHS number.
const NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// NormaliseNHSNumber removes the spaces and dashes people type in an NHS
// number ("943 476 5919").
func NormaliseNHSNumber(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
}

// ValidNHSNumber reports whether s is ten digits whose last is the modulus 11
// check digit of the first nine (weights 10 down to 2; a remainder giving 10
// makes the number invalid, 11 means a check digit of 0).
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if i < 9 {
			sum += int(s[i]-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(s[9]-'0')
}

// NHSCheckDigit returns the check digit for nine digits, or -1 when no
// number starting with them is valid. The demo generator uses it.
func NHSCheckDigit(nine string) int {
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(nine[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		return 0
	}
	if check == 10 {
		return -1
	}
	return check
}
