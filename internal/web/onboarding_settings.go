package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/onboarding"
)

// bandRow is one row of the size-band form, as typed (money in pounds).
type bandRow struct {
	Band, Label, UpTo, Implementation, Annual string
	Remove                                    bool
	New                                       bool // the empty row for adding a band
}

// The form repeats each field once per row, in order: band, label,
// up_to_staff, implementation, annual; "remove" holds the codes of the bands
// ticked for removal. A row left wholly empty is ignored.
func (h *Handler) sizeBandsForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	bands, err := h.onboarding.SizeBands(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([]bandRow, 0, len(bands)+1)
	for _, b := range bands {
		rows = append(rows, bandRow{Band: b.Band, Label: b.Label, UpTo: strconv.Itoa(b.UpToStaff),
			Implementation: b.ImplementationCost.Pounds(), Annual: b.AnnualContribution.Pounds()})
	}
	rows = append(rows, bandRow{New: true})
	h.render(w, r, http.StatusOK, "size_bands", &Page{Title: "Size bands and costs", Nav: "admin", Data: rows})
}

func (h *Handler) sizeBandsSave(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	f := r.PostForm
	remove := map[string]bool{}
	for _, b := range f["remove"] {
		remove[strings.ToUpper(strings.TrimSpace(b))] = true
	}
	var rows []bandRow
	var in []onboarding.SizeBandInput
	var v errs.Validation
	at := func(name string, i int) string {
		if i < len(f[name]) {
			return strings.TrimSpace(f[name][i])
		}
		return ""
	}
	for i := range f["band"] {
		row := bandRow{Band: at("band", i), Label: at("label", i), UpTo: at("up_to_staff", i),
			Implementation: at("implementation", i), Annual: at("annual", i)}
		if row.Band+row.Label+row.UpTo+row.Implementation+row.Annual == "" {
			continue
		}
		row.Remove = remove[strings.ToUpper(row.Band)]
		rows = append(rows, row)
		if row.Remove {
			continue
		}
		n := len(in) // the service numbers the rows it is given
		b := onboarding.SizeBandInput{Band: row.Band, Label: row.Label}
		name := "Band " + row.Band
		if row.Band == "" {
			name = fmt.Sprintf("Row %d", i+1)
		}
		var err error
		if row.UpTo == "" {
			b.UpToStaff = 0
		} else if b.UpToStaff, err = strconv.Atoi(strings.ReplaceAll(row.UpTo, ",", "")); err != nil {
			v.Add(fmt.Sprintf("items[%d].up_to_staff", n), "%s: enter the staff count as a whole number, or 0 for no upper limit", name)
		}
		var ok bool
		if b.ImplementationCost, ok = onboarding.ParsePounds(row.Implementation); !ok {
			v.Add(fmt.Sprintf("items[%d].implementation_cost_pence", n), "%s: enter the implementation cost in pounds, like 1500 or 1500.00", name)
		}
		if b.AnnualContribution, ok = onboarding.ParsePounds(row.Annual); !ok {
			v.Add(fmt.Sprintf("items[%d].annual_contribution_pence", n), "%s: enter the annual contribution in pounds, like 750 or 750.00", name)
		}
		in = append(in, b)
	}
	err := v.Err()
	if err == nil {
		_, err = h.onboarding.SetSizeBands(r.Context(), principal(r), in)
	}
	if err != nil {
		pg := &Page{Title: "Size bands and costs", Nav: "admin", Data: append(rows, bandRow{New: true})}
		h.formErrorWith(w, r, pg, bandFieldsToRows(err, rows), func(status int) { h.render(w, r, status, "size_bands", pg) })
		return
	}
	h.redirect(w, r, "/admin/size-bands", "The size bands have been saved")
}

// bandFieldsToRows renames the service's field names (items[n].label, n
// counting the bands kept) to the form's (label-i, i counting the rows shown),
// so that each inline error sits beside its box.
func bandFieldsToRows(err error, rows []bandRow) error {
	e := errs.As(err)
	if e.Code != errs.Invalid {
		return err
	}
	shown := []int{}
	for i, row := range rows {
		if !row.Remove {
			shown = append(shown, i)
		}
	}
	c := *e
	c.Fields = append([]errs.FieldError(nil), e.Fields...)
	names := map[string]string{"band": "band", "label": "label", "up_to_staff": "up_to_staff",
		"implementation_cost_pence": "implementation", "annual_contribution_pence": "annual"}
	for i, f := range c.Fields {
		var n int
		var field string
		if _, err := fmt.Sscanf(strings.Replace(f.Field, "].", "] ", 1), "items[%d] %s", &n, &field); err != nil || n >= len(shown) {
			continue
		}
		if to, ok := names[field]; ok {
			c.Fields[i].Field = fmt.Sprintf("%s-%d", to, shown[n])
		}
	}
	return &c
}

type suspensionData struct {
	State *onboarding.SuspensionState
}

func (h *Handler) suspensionForm(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	st, err := h.onboarding.State(r.Context(), principal(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := st.Message
	if msg == "" {
		msg = onboarding.DefaultSuspensionMessage
	}
	on := "no"
	if st.Suspended {
		on = "yes"
	}
	h.render(w, r, http.StatusOK, "suspension", &Page{Title: "Suspend new access requests", Nav: "admin",
		Data: &suspensionData{State: st}, Form: map[string][]string{"suspended": {on}, "message": {msg}}})
}

func (h *Handler) suspensionSave(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	on := r.PostFormValue("suspended") == "yes"
	st, err := h.onboarding.SetSuspension(r.Context(), principal(r), onboarding.SuspensionInput{Suspended: on,
		Message: r.PostFormValue("message")})
	if err != nil {
		cur, err2 := h.onboarding.State(r.Context(), principal(r))
		if err2 != nil {
			h.fail(w, r, err2)
			return
		}
		h.formError(w, r, "suspension", &Page{Title: "Suspend new access requests", Nav: "admin", Data: &suspensionData{State: cur}}, err)
		return
	}
	flash := "New access requests are accepted again"
	if st.Suspended {
		flash = "New access requests are suspended. Everyone sees the message at the top of each page."
	}
	h.redirect(w, r, "/admin/suspension", flash)
}
