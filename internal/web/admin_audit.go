package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// ParseAuditFilter reads the audit search fields from a query string. Dates
// are YYYY-MM-DD (the whole day, UTC) or RFC 3339 times; the API uses it too.
func ParseAuditFilter(q url.Values) (audit.Filter, error) {
	f := audit.Filter{Actor: strings.TrimSpace(q.Get("actor")), ObjectType: strings.TrimSpace(q.Get("object_type")),
		ObjectID: strings.TrimSpace(q.Get("object_id")), Action: strings.TrimSpace(q.Get("action"))}
	var v errs.Validation
	parse := func(field string, endOfDay bool) time.Time {
		s := strings.TrimSpace(q.Get(field))
		if s == "" {
			return time.Time{}
		}
		if t, err := time.Parse("2006-01-02", s); err == nil {
			if endOfDay {
				t = t.AddDate(0, 0, 1)
			}
			return t
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
		v.Add(field, "Enter a date like 2026-11-27")
		return time.Time{}
	}
	f.From, f.To = parse("from", false), parse("to", true)
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		v.Add("to", "The end date must be on or after the start date")
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			v.Add("before", "The page cursor is not valid")
		}
		f.Before = n
	}
	return f, v.Err()
}

type auditData struct {
	Events []audit.Event
	Next   template.URL // the next page, when there is one
	Export template.URL // the CSV export of the same search
}

func (h *Handler) auditSearch(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if !c.Principal.CanReadAudit() {
		h.fail(w, r, errForbidden)
		return
	}
	q := r.URL.Query()
	pg := &Page{Title: "Audit trail", Nav: "admin", Form: q, Data: &auditData{}}
	f, err := ParseAuditFilter(q)
	if err != nil {
		pg.Err = errs.As(err)
		h.render(w, r, http.StatusBadRequest, "audit", pg)
		return
	}
	f.Limit = 50
	events, next, err := audit.Search(r.Context(), h.db, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Reading the trail is itself audited: who looked for what.
	if err := h.audit.Append(r.Context(), audit.New(c.Who(), "audit.search", "audit", "", audit.Success, filterDetail(q))); err != nil {
		h.fail(w, r, err)
		return
	}
	d := &auditData{Events: events}
	if next != "" {
		nq := cloneQuery(q)
		nq.Set("before", next)
		d.Next = template.URL("/admin/audit?" + nq.Encode()) // built by url.Values: safe
	}
	eq := cloneQuery(q)
	eq.Del("before")
	d.Export = template.URL("/admin/audit/export.csv?" + eq.Encode())
	pg.Data = d
	h.render(w, r, http.StatusOK, "audit", pg)
}

func cloneQuery(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}

func filterDetail(q url.Values) map[string]string {
	d := map[string]string{}
	for _, k := range []string{"actor", "object_type", "object_id", "action", "from", "to"} {
		if v := q.Get(k); v != "" {
			d[k] = v
		}
	}
	return d
}

// auditExport streams the matching events as CSV, page by page, so that a
// large export does not sit in memory.
func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request) {
	c := httpauth.From(r.Context())
	if !c.Principal.CanReadAudit() {
		h.fail(w, r, errForbidden)
		return
	}
	f, err := ParseAuditFilter(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.audit.Append(r.Context(), audit.New(c.Who(), "audit.export", "audit", "", audit.Success, filterDetail(r.URL.Query()))); err != nil {
		h.fail(w, r, err)
		return
	}
	now := h.clock.Now()
	started, err := audit.WriteCSV(r.Context(), h.db, f, 0, w, func() {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="caregate-audit-`+now.UTC().Format("20060102-150405")+`.csv"`)
		w.Header().Set("Cache-Control", "no-store")
	})
	if err != nil && !started {
		h.fail(w, r, errs.Wrap(err, "export audit"))
		return
	}
	if err != nil {
		// The file is under way: break the transfer so that a short file is
		// never mistaken for a whole one.
		h.log.Error("audit export failed", "request_id", w.Header().Get("X-Request-Id"), "err", err)
		panic(http.ErrAbortHandler)
	}
}
