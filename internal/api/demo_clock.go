package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// The demo clock exists only in demo mode (the routes are not registered
// otherwise): administrators move time forward so that the 30-day, 90-day,
// end-date and SLA rules can be seen acting.

// clockState is the demo clock's reading.
type clockState struct {
	Now time.Time `json:"now"`
}

// clockAdvance is the body of POST /demo/clock.
type clockAdvance struct {
	Advance string `json:"advance"` // a duration: "72h", "90m", or whole days "30d"
}

// maxAdvance bounds one move, so a typo cannot throw the demo years ahead.
const maxAdvance = 400 * 24 * time.Hour

func (h *Handler) getClock(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	return h.reply(w, http.StatusOK, clockState{Now: h.demo.Now()})
}

func (h *Handler) advanceClock(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	var in clockAdvance
	if err := decode(r, &in); err != nil {
		return err
	}
	d, ok := parseAdvance(in.Advance)
	if !ok {
		return fieldError("advance", "Give a positive duration of at most 400 days, like 72h, 90m or 30d")
	}
	before := h.demo.Now()
	// Audit first: the move must not happen unrecorded.
	ev := audit.New(c.Principal.Who(), "demo.clock.advance", "clock", "demo", audit.Success,
		map[string]string{"advance": d.String(), "from": before.Format(time.RFC3339)})
	if err := h.audit.Append(r.Context(), ev); err != nil {
		return errs.Wrap(err, "audit clock move")
	}
	h.demo.Advance(d)
	return h.reply(w, http.StatusOK, clockState{Now: h.demo.Now()})
}

func parseAdvance(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 400 {
			return 0, false
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	return d, d > 0 && d <= maxAdvance
}
