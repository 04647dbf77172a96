package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// Reading the audit trail is itself audited (DESIGN: binding lesson): the
// search event is made durable before any result is released, and a refused
// attempt is recorded too.

const (
	actionSearch = "audit.search"
	actionExport = "audit.export"
)

func auditParams(paging bool) []Param {
	ps := []Param{
		{Name: "actor", Description: "The acting user's e-mail address or id"},
		{Name: "object_type", Description: "e.g. organisation, site, user"},
		{Name: "object_id", Description: "The object's id"},
		{Name: "action", Description: "An exact action (organisation.update) or a prefix ending in a dot (auth.)"},
		{Name: "from", Description: "Events at or after: RFC 3339 time, or a date YYYY-MM-DD (its start, UTC)"},
		{Name: "to", Description: "Events before: RFC 3339 time, or a date YYYY-MM-DD (that whole day included, UTC)"},
	}
	limit := Param{Name: "limit", Description: "At most this many events (1–1000; default 100)", Format: "int32"}
	if !paging {
		limit.Description = "At most this many events (default: all that match)"
	}
	ps = append(ps, limit, Param{Name: "cursor", Description: "next_cursor of the previous page: events older than it"})
	return ps
}

// auditQuery is a parsed audit search: the filter, and the parameters as
// given, for the audit event that records the search.
type auditQuery struct {
	filter audit.Filter
	limit  int // for the export: 0 means everything
	given  map[string]string
}

func parseAuditQuery(q url.Values, paging bool) (*auditQuery, error) {
	var v errs.Validation
	known := []string{"actor", "object_type", "object_id", "action", "from", "to", "limit", "cursor"}
	for name := range q {
		if !slices.Contains(known, name) {
			v.Add(name, "Unknown parameter: use %s", strings.Join(known, ", "))
		}
	}
	aq := &auditQuery{given: map[string]string{}}
	get := func(name string) string {
		s := strings.TrimSpace(q.Get(name))
		if len(s) > 254 {
			v.Add(name, "Must be 254 characters or fewer")
			return ""
		}
		if s != "" {
			aq.given[name] = s
		}
		return s
	}
	f := &aq.filter
	f.Actor, f.ObjectType, f.ObjectID, f.Action = get("actor"), get("object_type"), get("object_id"), get("action")
	if s := get("from"); s != "" {
		t, _, ok := parseTime(s) // a date starts at its midnight
		if !ok {
			v.Add("from", "Give a time like 2026-01-31T09:00:00Z or a date like 2026-01-31")
		}
		f.From = t
	}
	if s := get("to"); s != "" {
		t, dateOnly, ok := parseTime(s)
		if !ok {
			v.Add("to", "Give a time like 2026-01-31T17:00:00Z or a date like 2026-01-31")
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1) // "to 31 January" includes the 31st
		}
		f.To = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		v.Add("to", "Must be after from")
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		max := 1000
		if !paging {
			max = 1 << 30
		}
		if err != nil || n < 1 || n > max {
			v.Add("limit", "Give a whole number from 1 to %d", max)
		}
		aq.limit = n
	}
	if paging {
		f.Limit = aq.limit
		if f.Limit == 0 {
			f.Limit = 100
		}
	}
	if s := get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			v.Add("cursor", "Give the next_cursor value of the previous page")
		}
		f.Before = n
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return aq, nil
}

// parseTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseTime(s string) (t time.Time, dateOnly, ok bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, true
	}
	return time.Time{}, false, false
}

// recordRead audits a read of the trail and returns only once the event is
// durable, so that no result leaves unrecorded.
func (h *Handler) recordRead(ctx context.Context, c *httpauth.Caller, action string, aq *auditQuery) error {
	if err := authz.Require(c.Principal, authz.Admin, authz.PrivacyOfficer); err != nil {
		if aerr := h.audit.Append(ctx, audit.New(c.Principal.Who(), action, "audit", "", audit.Refused, nil)); aerr != nil {
			h.log.Error("audit refused read", "err", aerr)
		}
		return err
	}
	if err := h.audit.Append(ctx, audit.New(c.Principal.Who(), action, "audit", "", audit.Success, aq.given)); err != nil {
		return errs.Wrap(err, "audit the audit search")
	}
	return nil
}

func (h *Handler) searchAudit(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	aq, err := parseAuditQuery(r.URL.Query(), true)
	if err != nil && !c.Principal.CanReadAudit() {
		err = nil // refuse by role first: do not tell the unauthorised about parameters
		aq = &auditQuery{}
	}
	if err != nil {
		return err
	}
	if err := h.recordRead(r.Context(), c, actionSearch, aq); err != nil {
		return err
	}
	evs, next, err := audit.Search(r.Context(), h.db, aq.filter)
	if err != nil {
		return errs.Wrap(err, "search audit")
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(evs), NextCursor: next})
}

// exportAudit streams every matching event as CSV, a page at a time, so an
// export of the whole trail does not sit in memory.
func (h *Handler) exportAudit(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	aq, err := parseAuditQuery(r.URL.Query(), false)
	if err != nil && !c.Principal.CanReadAudit() {
		err = nil
		aq = &auditQuery{}
	}
	if err != nil {
		return err
	}
	aq.given["format"] = "csv"
	if err := h.recordRead(r.Context(), c, actionExport, aq); err != nil {
		return err
	}
	started, err := audit.WriteCSV(r.Context(), h.db, aq.filter, aq.limit, w, func() {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="caregate-audit-`+h.clock.Now().Format("20060102T150405Z")+`.csv"`)
		w.WriteHeader(http.StatusOK)
	})
	if err != nil && !started {
		return errs.Wrap(err, "export audit")
	}
	if err != nil {
		// The status line has gone: abort the response so the client sees a
		// broken transfer, never a short file that looks whole.
		h.log.Error("audit export failed", "request_id", w.Header().Get("X-Request-Id"), "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
