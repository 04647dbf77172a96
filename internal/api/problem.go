package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// Problem is an RFC 9457 problem detail, the body of every error response.
// Code is CareGate's error code (invalid, not_found, forbidden …), stable for
// programs to branch on; Detail is a sentence safe to show to a person.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      string            `json:"code"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// httpError is a failure of the HTTP exchange itself (body too large, wrong
// media type) that has no domain error code.
type httpError struct {
	status int
	code   string
	detail string
}

func (e *httpError) Error() string { return e.detail }

// status maps an error code to an HTTP status.
func status(c errs.Code) int { return errs.HTTPStatus(c) }

// fail writes err as a problem. Internal detail goes to the log under the
// request ID; the client sees only the error's user-safe message.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		h.writeProblem(w, r, he.status, he.code, he.detail, nil)
		return
	}
	e := errs.As(err)
	st := status(e.Code)
	if st >= 500 {
		h.log.Error("api request failed", "request_id", w.Header().Get("X-Request-Id"), "method", r.Method,
			"path", r.URL.Path, "err", err)
	}
	if st == http.StatusUnauthorized {
		v := `Bearer realm="CareGate API"`
		if httpauth.From(r.Context()).BadBearer() {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	h.writeProblem(w, r, st, string(e.Code), e.Message, e.Fields)
}

func (h *Handler) writeProblem(w http.ResponseWriter, r *http.Request, st int, code, detail string, fields []errs.FieldError) {
	p := Problem{Type: "about:blank", Title: http.StatusText(st), Status: st, Detail: detail, Code: code, Errors: fields}
	if st >= 500 {
		p.RequestID = w.Header().Get("X-Request-Id") // for the caller to quote
	}
	b, err := json.Marshal(p)
	if err != nil {
		http.Error(w, http.StatusText(st), st)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(st)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// reply writes v as JSON with status st.
func (h *Handler) reply(w http.ResponseWriter, st int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.Wrap(err, "encode response")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	w.Write(append(b, '\n'))
	return nil
}

// created answers a creation: 201 with the new resource's address.
func (h *Handler) created(w http.ResponseWriter, location string, v any) error {
	w.Header().Set("Location", location)
	return h.reply(w, http.StatusCreated, v)
}

// noContent answers a removal.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// list is the shape of every list response.
type list struct {
	Items      any    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}
