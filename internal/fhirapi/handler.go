// Package fhirapi serves the record over FHIR R4 at /fhir/R4/: the
// CapabilityStatement, read and search for the record's resource types —
// authorised exactly as the viewer (a portal session or an API token, with
// the role filter) — and the partners' publishing endpoints, authenticated
// by a machine access token from the OAuth2 token endpoint /oauth2/token.
// Errors are OperationOutcome resources. The rules are in package record.
package fhirapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
)

// Base is the FHIR base path.
const Base = "/fhir/R4"

// ContentType is the FHIR JSON media type.
const ContentType = "application/fhir+json"

// Handler serves the FHIR API.
type Handler struct {
	rec     *record.Service
	log     *slog.Logger
	baseURL string
	routes  []string
}

// New returns the FHIR handler. baseURL is the public address ("" uses the
// request's host) for the token endpoint's audience.
func New(rec *record.Service, log *slog.Logger, baseURL string) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{rec: rec, log: log, baseURL: strings.TrimSuffix(baseURL, "/")}
}

// Routes lists the registered route patterns.
func (h *Handler) Routes() []string { return h.routes }

// Register adds the FHIR routes and the token endpoint to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	add := func(pattern string, fn http.HandlerFunc) {
		h.routes = append(h.routes, pattern)
		mux.HandleFunc(pattern, fn)
	}
	add("GET "+Base+"/metadata", h.metadata)
	add("GET "+Base+"/{type}/{id}", h.read)
	add("GET "+Base+"/{type}", h.search)
	add("POST "+Base+"/{$}", h.publish)
	add("POST "+Base+"/{type}", h.publish)
	add("PUT "+Base+"/{type}/{id}", h.publish)
	add("POST /oauth2/token", h.token)
	mux.HandleFunc(Base+"/", func(w http.ResponseWriter, r *http.Request) {
		h.outcome(w, r, http.StatusNotFound, "not-supported", "There is no FHIR interaction at this address", "")
	})
}

// outcome writes an OperationOutcome.
func (h *Handler) outcome(w http.ResponseWriter, r *http.Request, status int, code, msg, where string) {
	issue := map[string]any{"severity": "error", "code": code, "diagnostics": msg}
	if where != "" {
		issue["expression"] = []string{where}
	}
	h.write(w, status, map[string]any{"resourceType": "OperationOutcome", "issue": []any{issue}})
}

// fail maps a domain error to an OperationOutcome, each field problem an
// issue with its location.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	status := errs.HTTPStatus(e.Code)
	code := map[errs.Code]string{errs.Invalid: "invalid", errs.NotFound: "not-found", errs.Forbidden: "forbidden",
		errs.Unauthenticated: "login", errs.Conflict: "conflict", errs.TooMany: "throttled"}[e.Code]
	if code == "" {
		code = "exception"
		h.log.Error("FHIR request failed", "route", r.Pattern, "request_id", w.Header().Get("X-Request-Id"), "err", err)
	}
	if e.Code == errs.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="caregate"`)
	}
	var issues []any
	for _, f := range e.Fields {
		issues = append(issues, map[string]any{"severity": "error", "code": code, "diagnostics": f.Message, "expression": []string{f.Field}})
	}
	if len(issues) == 0 {
		issues = []any{map[string]any{"severity": "error", "code": code, "diagnostics": e.Message}}
	}
	h.write(w, status, map[string]any{"resourceType": "OperationOutcome", "issue": issues})
}

func (h *Handler) write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.writeRaw(w, status, b)
}

func (h *Handler) writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", ContentType+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// metadata is the CapabilityStatement: what this server does.
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	var resources []any
	for _, t := range record.Types() {
		params := []any{map[string]any{"name": "patient", "type": "reference"},
			map[string]any{"name": "_count", "type": "number", "documentation": "Page size, 1 to " + itoa(record.MaxPage) + " (default " +
				itoa(record.DefaultPage) + "). Resources come newest first (by clinical date); Bundle.total counts them all and " +
				"Bundle.link next (with an opaque _cursor) leads to the next page."}}
		if t == "Patient" {
			params = []any{
				map[string]any{"name": "identifier", "type": "token", "documentation": "NHS number: " + record.NHSNumberSystem + "|{number}"},
				map[string]any{"name": "family", "type": "string"}, map[string]any{"name": "given", "type": "string"},
				map[string]any{"name": "birthdate", "type": "date"}, map[string]any{"name": "gender", "type": "token"},
				map[string]any{"name": "address-postalcode", "type": "string"},
			}
		}
		res := map[string]any{"type": t, "interaction": []any{
			map[string]any{"code": "read"}, map[string]any{"code": "search-type"}, map[string]any{"code": "update"}, map[string]any{"code": "create"}},
			"searchParam": params}
		if t == "Patient" {
			res["documentation"] = "A Patient search discloses only what is needed to pick the right person: each match is a Patient " +
				"tagged SUBSETTED carrying only its id, the NHS number identifier, name, birthDate, gender and the postcode district " +
				"(address.postalCode), one per NHS number. At most " + itoa(record.MaxMatches) + " people are returned, ordered by NHS number, with no paging: when " +
				"more match, Bundle.total says how many and an OperationOutcome entry (search.mode outcome) asks for a narrower search. " +
				"The full Patient (address, telecom, GP) is a read of Patient/{id}, which is audited as a view of that person's record."
		}
		resources = append(resources, res)
	}
	h.write(w, http.StatusOK, map[string]any{
		"resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-27", "kind": "instance", "fhirVersion": "4.0.1",
		"format":   []string{"json"},
		"software": map[string]any{"name": "CareGate"},
		"rest": []any{map[string]any{"mode": "server",
			"documentation": "Reads are authorised as the portal viewer (a session or an API token) with the record role filter; every read is audited. " +
				"A served resource is its supplier's JSON with this server's id and meta; its references to Patient (Patient/{supplier id}, or a " +
				"Bundle fullUrl in its patient field) are rewritten to this server's id of the Patient the same organisation sent. " +
				"Publishing needs a machine access token from /oauth2/token (client_credentials with client_secret or private_key_jwt).",
			"security":    map[string]any{"service": []any{map[string]any{"text": "OAuth2 client credentials (publishing); CareGate API token (reading)"}}},
			"resource":    resources,
			"interaction": []any{map[string]any{"code": "transaction"}},
		}},
	})
}

// viewer returns the signed-in principal, or writes a 401.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) bool {
	c := httpauth.From(r.Context())
	if c.Principal == nil {
		h.fail(w, r, errs.E(errs.Unauthenticated, "Send a CareGate API token (Authorization: Bearer cgt_…) or sign in to the portal"))
		return false
	}
	if !store.StorableValues(r.URL.Query()) {
		h.fail(w, r, errs.E(errs.Invalid, "The query string contains characters that cannot be accepted"))
		return false
	}
	return true
}

func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	if !h.signedIn(w, r) {
		return
	}
	res, err := h.rec.Read(r.Context(), httpauth.From(r.Context()).Principal, r.PathValue("type"), r.PathValue("id"))
	if err == nil {
		err = h.rec.LinkPatients(r.Context(), res)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := res.Served()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `W/"`+itoa(res.Version)+`"`)
	w.Header().Set("Last-Modified", res.UpdatedAt.Format(http.TimeFormat))
	h.writeRaw(w, http.StatusOK, b)
}

func itoa(n int) string { return strconv.Itoa(n) }

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	if !h.signedIn(w, r) {
		return
	}
	q := r.URL.Query()
	typ := r.PathValue("type")
	sp := record.SearchParams{Patient: firstOf(q.Get("patient"), q.Get("subject")), Cursor: q.Get("_cursor")}
	if c := q.Get("_count"); c != "" {
		// The record checks the page size, after who may search, and
		// audits a refusal: what is not a number, or is 0, goes to it as
		// out of range as -1 is.
		n, err := strconv.Atoi(c)
		if err != nil || n == 0 {
			n = -1
		}
		sp.Count = n
	}
	if typ == "Patient" {
		sp.Query = record.Query{Family: q.Get("family"), Given: q.Get("given"), BirthDate: strings.TrimPrefix(q.Get("birthdate"), "eq"),
			Gender: q.Get("gender"), Postcode: q.Get("address-postalcode")}
		sp.Identifier = q.Get("identifier")
	}
	set, err := h.rec.SearchResources(r.Context(), httpauth.From(r.Context()).Principal, typ, sp)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rs := set.Resources
	entries := make([]any, 0, len(rs)+1)
	for i := range rs {
		b, err := rs[i].Served()
		if err != nil {
			h.fail(w, r, err)
			return
		}
		entries = append(entries, map[string]any{"fullUrl": h.base(r) + "/" + rs[i].Type + "/" + rs[i].ID, "resource": json.RawMessage(b),
			"search": map[string]any{"mode": "match"}})
	}
	if typ == "Patient" && set.Total > len(rs) {
		// A Patient search stops at record.MaxMatches people and is not paged: the
		// client is told, in the searchset itself, to narrow it.
		entries = append(entries, map[string]any{"search": map[string]any{"mode": "outcome"}, "resource": map[string]any{
			"resourceType": "OperationOutcome", "issue": []any{map[string]any{"severity": "warning", "code": "too-costly",
				"diagnostics": itoa(set.Total) + " patients match; only the first " + itoa(len(rs)) + " (by NHS number) are returned. " +
					"Narrow the search (given name, gender, postcode) or search by NHS number."}}}})
	}
	bundle := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": set.Total, "entry": entries}
	if typ != "Patient" {
		// Pages of a search of clinical resources: the links repeat the
		// search with the page size and where the page starts.
		page := func(cursor string) string {
			v := url.Values{"patient": {sp.Patient}}
			if sp.Count != 0 {
				v.Set("_count", itoa(sp.Count))
			}
			if cursor != "" {
				v.Set("_cursor", cursor)
			}
			return h.base(r) + "/" + typ + "?" + v.Encode()
		}
		links := []any{map[string]any{"relation": "self", "url": page(sp.Cursor)}}
		if set.Next != "" {
			links = append(links, map[string]any{"relation": "next", "url": page(set.Next)})
		}
		bundle["link"] = links
	}
	h.write(w, http.StatusOK, bundle)
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (h *Handler) base(r *http.Request) string {
	if h.baseURL != "" {
		return h.baseURL + Base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Base
}

// publish stores what a partner's system sends: a transaction Bundle at
// the base, or one resource at its type (POST, with its id in the body) or
// at its address (PUT, the id in the body must match).
func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		h.fail(w, r, errs.E(errs.Unauthenticated, "Publishing needs a machine access token from /oauth2/token"))
		return
	}
	pub, err := h.rec.PublisherFor(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit := h.rec.Config().MaxPayload
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err := h.rec.RefuseTooLarge(r.Context(), pub)
		h.outcome(w, r, http.StatusRequestEntityTooLarge, "too-long", errs.As(err).Message, "")
		return
	}
	if err != nil {
		h.fail(w, r, errs.E(errs.Invalid, "The body could not be read"))
		return
	}
	// The body is parsed once, by the record, which also checks that it
	// is what its address names (and audits a refusal).
	out, err := h.rec.IngestAt(r.Context(), pub, record.Target{Type: r.PathValue("type"), ID: r.PathValue("id")}, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if r.PathValue("type") != "" && len(out) == 1 {
		st := out[0]
		w.Header().Set("Location", h.base(r)+"/"+st.Type+"/"+st.ID+"/_history/"+itoa(st.Version))
		status := http.StatusOK
		if st.Outcome == "created" {
			status = http.StatusCreated
		}
		h.write(w, status, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{"severity": "information",
			"code": "informational", "diagnostics": st.Type + "/" + st.SourceID + " " + st.Outcome + " as " + st.Type + "/" + st.ID}}})
		return
	}
	entries := make([]any, 0, len(out))
	for _, st := range out {
		status := "200 OK"
		if st.Outcome == "created" {
			status = "201 Created"
		}
		entries = append(entries, map[string]any{"response": map[string]any{"status": status,
			"location": st.Type + "/" + st.ID + "/_history/" + itoa(st.Version), "outcome": map[string]any{"resourceType": "OperationOutcome",
				"issue": []any{map[string]any{"severity": "information", "code": "informational", "diagnostics": st.Outcome}}}}})
	}
	h.write(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": entries})
}

// token is the OAuth2 token endpoint (client credentials grant): the client
// authenticates with its secret (HTTP Basic or form) or a private_key_jwt
// assertion whose audience is this endpoint's address.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !store.StorableValues(r.PostForm) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The form could not be read")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported")
		return
	}
	c := httpauth.From(r.Context())
	who := c.Who()
	var tok *record.Token
	var err error
	if a := r.PostForm.Get("client_assertion"); a != "" {
		if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			return
		}
		aud := h.baseURL
		if aud == "" {
			aud = strings.TrimSuffix(h.base(r), Base)
		}
		tok, err = h.rec.TokenForAssertion(r.Context(), who, a, aud+"/oauth2/token")
	} else {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		tok, err = h.rec.TokenForSecret(r.Context(), who, id, secret)
	}
	if err != nil {
		if errs.CodeOf(err) == errs.Internal {
			h.log.Error("token endpoint", "err", err)
			oauthError(w, http.StatusInternalServerError, "server_error", "Something went wrong on our side")
			return
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", errs.As(err).Message)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(tok)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
