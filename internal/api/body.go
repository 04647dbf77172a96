package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/caregate/caregate/internal/errs"
)

// readBody reads the whole (already size-limited) request body. A body
// over the limit is refused with 413 and tooLarge's message, if given, or
// one that states the body's limit.
func readBody(r *http.Request, tooLarge error) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		if tooLarge != nil {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large", errs.As(tooLarge).Message}
		}
		limit := fmt.Sprintf("%d bytes", tooBig.Limit)
		if tooBig.Limit >= 1<<20 && tooBig.Limit%(1<<20) == 0 {
			limit = fmt.Sprintf("%d MB", tooBig.Limit>>20)
		}
		return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large",
			"The request body is larger than the limit of " + limit + ". Split a large file into smaller ones."}
	}
	if err != nil {
		return nil, errs.E(errs.Invalid, "The request body could not be read")
	}
	return b, nil
}

// checkContentType refuses a body that is not JSON.
func checkContentType(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || mt == "application/merge-patch+json") {
		return nil
	}
	switch r.Method {
	case http.MethodPatch:
		w.Header().Set("Accept-Patch", "application/json, application/merge-patch+json")
	case http.MethodPost:
		w.Header().Set("Accept-Post", "application/json")
	}
	got := ct
	if got == "" {
		got = "none"
	}
	return &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type",
		"Send the request body as application/json (Content-Type was " + got + ")"}
}

// decode reads the request body, which the route wrapper has already limited
// and checked, into dst.
func decode(r *http.Request, dst any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return errs.E(errs.Invalid, "The request body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errs.E(errs.Invalid, "The request body is empty: send a JSON object")
	}
	return decodeBytes(b, dst)
}

// decodeOptional is decode for routes whose body may be left out; dst keeps
// its zero value then.
func decodeOptional(r *http.Request, dst any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return errs.E(errs.Invalid, "The request body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeBytes(b, dst)
}

// decodeBytes decodes exactly one JSON object into dst, refusing unknown
// fields (a misspelt field must not be silently ignored) and anything after
// the object. Every failure names the problem in words a developer can act
// on; none of them exposes more than the client sent.
func decodeBytes(b []byte, dst any) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return errs.E(errs.Invalid, "The request body must be a JSON object ({…})")
	}
	// JSON is UTF-8; encoding/json would quietly turn other bytes into
	// U+FFFD, losing what was sent (a CSV file's text saved in another
	// encoding, say) instead of saying so.
	if !utf8.Valid(b) {
		return errs.E(errs.Invalid, "The request body is not valid UTF-8 text. Send JSON in UTF-8; a file's text (such as a CSV intake) must be saved as UTF-8 first (in Excel: \"CSV UTF-8\").")
	}
	// encoding/json turns invalid UTF-8 into U+FFFD, but a \u0000 escape
	// decodes to a NUL byte, which PostgreSQL cannot store.
	if bytes.Contains(bytes.ToLower(b), []byte(`\u0000`)) {
		return errs.E(errs.Invalid, "The request body contains a NUL character (\\u0000), which cannot be accepted")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.E(errs.Invalid, "The request body must hold one JSON object and nothing after it")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errs.E(errs.Invalid, "The request body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return errs.E(errs.Invalid, "The request body is not valid JSON: it ends before the object is complete")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errs.E(errs.Invalid, "The request body must be a JSON object ({…})")
		}
		m := fmt.Sprintf("Must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		return &errs.Error{Code: errs.Invalid, Message: field + ": " + m, Fields: []errs.FieldError{{Field: field, Message: m}}}
	}
	if name, ok := unknownField(err.Error()); ok {
		m := "Unknown field: this request does not take " + strconvQuote(name)
		return &errs.Error{Code: errs.Invalid, Message: m, Fields: []errs.FieldError{{Field: name, Message: "Unknown field"}}}
	}
	return errs.E(errs.Invalid, "The request body does not match what this request takes")
}

// unknownField extracts the field name from encoding/json's error for
// DisallowUnknownFields (`json: unknown field "x"`), the only way it reports it.
func unknownField(msg string) (string, bool) {
	i := strings.Index(msg, "unknown field ")
	if i < 0 {
		return "", false
	}
	rest := strings.TrimSpace(msg[i+len("unknown field "):])
	var name string
	if err := json.Unmarshal([]byte(rest), &name); err != nil {
		name = strings.Trim(rest, `"`)
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name, true
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// jsonKind names a Go kind as a JSON type.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value"
	}
	return "a number"
}
