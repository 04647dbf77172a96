package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// ParseAdvance reads how far to move the demo clock: a Go duration ("72h")
// or a number of days ("30d"), forwards only, at most ten years.
func ParseAdvance(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err = time.ParseDuration(n + "h")
		d *= 24
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 || d > 10*365*24*time.Hour {
		return 0, &errs.Error{Code: errs.Invalid, Message: "Enter how far to move the clock forward, like 30d or 72h",
			Fields: []errs.FieldError{{Field: "advance", Message: "Enter a period like 30d or 72h"}}}
	}
	return d, nil
}

func (h *Handler) clockForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	h.render(w, r, http.StatusOK, "clock", &Page{Title: "Demo clock", Nav: "admin", Data: h.demo.Clock.Offset()})
}

// clockAdvance moves the demo clock forward so that time-based rules can be
// seen working; it exists only in demo mode and is audited.
func (h *Handler) clockAdvance(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	d, err := ParseAdvance(r.PostFormValue("advance"))
	if err != nil {
		h.formError(w, r, "clock", &Page{Title: "Demo clock", Nav: "admin", Data: h.demo.Clock.Offset()}, err)
		return
	}
	h.demo.Clock.Advance(d)
	c := httpauth.From(r.Context())
	if err := h.audit.Append(r.Context(), audit.New(c.Who(), "demo.clock_advance", "clock", "", audit.Success,
		map[string]string{"advance": d.String()})); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/admin/clock", "The clock has moved forward by "+d.String())
}
