// Package errs defines CareGate's one error type. Domain services return an
// *Error carrying a Code and a message that is safe to show to the user; the
// web and API layers map codes to HTTP statuses in one place. Internal detail
// (SQL errors, stack context) stays in wrapped errors that are only logged.
package errs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Code classifies an error for the user-facing layers.
type Code string

// The error codes. Each maps to one HTTP status.
const (
	Invalid         Code = "invalid"         // 400/422: bad input; see Fields
	NotFound        Code = "not_found"       // 404
	Conflict        Code = "conflict"        // 409: duplicate or illegal state transition
	Forbidden       Code = "forbidden"       // 403: authenticated but not allowed
	Unauthenticated Code = "unauthenticated" // 401
	TooMany         Code = "too_many"        // 429: throttled or locked out
	Internal        Code = "internal"        // 500
)

// FieldError names one invalid input field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the error type returned by domain services.
type Error struct {
	Code    Code
	Message string       // safe to show to the user
	Fields  []FieldError // for Invalid: which fields are at fault
	Err     error        // internal cause; logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// E builds an error with a code and a user-safe message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap marks err as an internal failure while keeping it for the log.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: Internal, Message: "Something went wrong on our side. Please try again.", Err: fmt.Errorf("%s: %w", what, err)}
}

// CodeOf returns the code of err, Internal for foreign errors.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns err as *Error, wrapping foreign errors as Internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "Something went wrong on our side. Please try again.", Err: err}
}

// Validation collects field errors; Err returns nil when there are none.
type Validation struct{ Fields []FieldError }

// Add records a problem with a field.
func (v *Validation) Add(field, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether field already has an error.
func (v *Validation) Has(field string) bool {
	for _, f := range v.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Text checks a one-line text field and returns it trimmed: present when
// required, at most max characters, UTF-8, without < > or line breaks (it
// is shown in pages and e-mails and must stay one line there). The one rule
// for names, titles and the like.
func (v *Validation) Text(field, label, s string, required bool, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		v.Add(field, "Enter the %s", strings.ToLower(label))
	case !utf8.ValidString(s):
		v.Add(field, "%s must be plain text", label)
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "%s must be %d characters or fewer", label, max)
	case strings.ContainsAny(s, "<>\x00\r\n"):
		v.Add(field, "%s must not contain < > or line breaks", label)
	}
	return s
}

// Err returns an Invalid error listing the fields, or nil.
func (v *Validation) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	msg := v.Fields[0].Message
	if len(v.Fields) > 1 {
		msg = fmt.Sprintf("%d fields need correcting", len(v.Fields))
	}
	return &Error{Code: Invalid, Message: msg, Fields: v.Fields}
}

// HTTPStatus maps a code to its HTTP status: the one mapping the portal and
// the API share.
func HTTPStatus(c Code) int {
	switch c {
	case Invalid:
		return 400
	case NotFound:
		return 404
	case Conflict:
		return 409
	case Forbidden:
		return 403
	case Unauthenticated:
		return 401
	case TooMany:
		return 429
	}
	return 500
}
