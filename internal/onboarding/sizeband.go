package onboarding

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// Pence is an amount of money in pence. Money is kept in whole pence so that
// sums are exact.
type Pence int64

// String formats the amount as pounds, like £12,500.00.
func (p Pence) String() string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	pounds := strconv.FormatInt(int64(p)/100, 10)
	var b strings.Builder
	for i, c := range pounds {
		if i > 0 && (len(pounds)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s£%s.%02d", sign, b.String(), int64(p)%100)
}

// Pounds formats the amount for a form field, like 12500.00.
func (p Pence) Pounds() string { return fmt.Sprintf("%d.%02d", int64(p)/100, int64(p)%100) }

var poundsPattern = regexp.MustCompile(`^(\d{1,9})(?:\.(\d{1,2}))?$`)

// ParsePounds reads an amount typed in pounds ("12500", "£12,500.50") as
// pence. It refuses negative amounts and more than two decimal places.
func ParsePounds(s string) (Pence, bool) {
	s = strings.NewReplacer(",", "", "£", "", " ", "").Replace(strings.TrimSpace(s))
	m := poundsPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	pounds, _ := strconv.ParseInt(m[1], 10, 64)
	pence := int64(0)
	if m[2] != "" {
		pence, _ = strconv.ParseInt(m[2], 10, 64)
		if len(m[2]) == 1 {
			pence *= 10
		}
	}
	return Pence(pounds*100 + pence), true
}

// SizeBand is one row of the cost table.
type SizeBand struct {
	Band               string    `json:"band"`
	Label              string    `json:"label"`
	UpToStaff          int       `json:"up_to_staff"` // largest staff count in the band; 0: no upper limit
	ImplementationCost Pence     `json:"implementation_cost_pence"`
	AnnualContribution Pence     `json:"annual_contribution_pence"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// SizeBandInput is one row of a new cost table.
type SizeBandInput struct {
	Band               string `json:"band"`
	Label              string `json:"label"`
	UpToStaff          int    `json:"up_to_staff"`
	ImplementationCost Pence  `json:"implementation_cost_pence"`
	AnnualContribution Pence  `json:"annual_contribution_pence"`
}

var bandPattern = regexp.MustCompile(`^[A-Z0-9]{1,10}$`)

// maxPence bounds an amount (£100 million), far above any real cost, so that
// sums over every organisation cannot overflow.
const maxPence = 100_000_000_00

// checkBands validates a whole new table and returns it in band order: by
// staff count, the open-ended band last.
func checkBands(in []SizeBandInput) ([]SizeBandInput, error) {
	var v errs.Validation
	if len(in) == 0 {
		v.Add("items", "Give at least one size band")
	}
	if len(in) > 50 {
		v.Add("items", "Give at most 50 size bands")
	}
	out := make([]SizeBandInput, len(in))
	seen := map[string]bool{}
	open := 0
	for i, b := range in {
		f := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
		b.Band = strings.ToUpper(strings.TrimSpace(b.Band))
		b.Label = strings.TrimSpace(b.Label)
		name := b.Band
		if name == "" {
			name = fmt.Sprintf("Row %d", i+1)
		} else {
			name = "Band " + name
		}
		switch {
		case !bandPattern.MatchString(b.Band):
			v.Add(f("band"), "%s: the band code must be 1 to 10 letters or digits, like A", name)
		case seen[b.Band]:
			v.Add(f("band"), "%s appears twice: each band code must be different", name)
		}
		seen[b.Band] = true
		switch {
		case b.Label == "":
			v.Add(f("label"), "%s: enter a description, like 11 to 50 staff", name)
		case len([]rune(b.Label)) > 100:
			v.Add(f("label"), "%s: the description must be 100 characters or fewer", name)
		case strings.ContainsAny(b.Label, "<>\x00\r\n"):
			v.Add(f("label"), "%s: the description must not contain < > or line breaks", name)
		}
		if b.UpToStaff < 0 || b.UpToStaff > 10_000_000 {
			v.Add(f("up_to_staff"), "%s: the staff count must be a whole number from 1 to 10,000,000, or 0 for no upper limit", name)
		}
		if b.UpToStaff == 0 {
			open++
		}
		if b.ImplementationCost < 0 || b.ImplementationCost > maxPence {
			v.Add(f("implementation_cost_pence"), "%s: the implementation cost must be from £0 to £100,000,000", name)
		}
		if b.AnnualContribution < 0 || b.AnnualContribution > maxPence {
			v.Add(f("annual_contribution_pence"), "%s: the annual contribution must be from £0 to £100,000,000", name)
		}
		out[i] = b
	}
	if open > 1 {
		v.Add("items", "Only one band may have no upper limit (staff count 0)")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b SizeBandInput) int { return bandOrder(a.UpToStaff) - bandOrder(b.UpToStaff) })
	for i := 1; i < len(out); i++ {
		if out[i].UpToStaff != 0 && out[i].UpToStaff == out[i-1].UpToStaff {
			v.Add("items", "Bands %s and %s both end at %d staff: each band must end at a different staff count", out[i-1].Band, out[i].Band, out[i].UpToStaff)
		}
	}
	return out, v.Err()
}

// bandOrder sorts the open-ended band (0) after every other.
func bandOrder(upTo int) int {
	if upTo == 0 {
		return 1 << 30
	}
	return upTo
}

const bandColumns = `band, label, up_to_staff, implementation_pence, annual_pence, updated_at`

// bandOrderSQL orders bands by staff count, the open-ended band last.
const bandOrderSQL = ` ORDER BY CASE WHEN up_to_staff = 0 THEN 1 ELSE 0 END, up_to_staff, band`

func loadBands(ctx context.Context, q store.Querier) ([]SizeBand, error) {
	rows, err := q.Query(ctx, `SELECT `+bandColumns+` FROM size_bands`+bandOrderSQL)
	if err != nil {
		return nil, errs.Wrap(err, "list size bands")
	}
	defer rows.Close()
	out := []SizeBand{}
	for rows.Next() {
		var b SizeBand
		var u int64
		if err := rows.Scan(&b.Band, &b.Label, &b.UpToStaff, &b.ImplementationCost, &b.AnnualContribution, &u); err != nil {
			return nil, errs.Wrap(err, "scan size band")
		}
		b.UpdatedAt = time.UnixMicro(u).UTC()
		out = append(out, b)
	}
	return out, errs.Wrap(rows.Err(), "list size bands")
}

// SizeBands returns the cost table in band order. Callers: administrators.
// Errors: Forbidden.
func (s *Service) SizeBands(ctx context.Context, p *authz.Principal) ([]SizeBand, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	return loadBands(ctx, s.db)
}

// SetSizeBands replaces the whole cost table. A band still used by an
// application cannot be removed. Callers: administrators. Errors: Forbidden,
// Invalid, Conflict (a removed band is in use).
func (s *Service) SetSizeBands(ctx context.Context, p *authz.Principal, in []SizeBandInput) ([]SizeBand, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	bands, err := checkBands(in)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		before, err := loadBands(ctx, tx)
		if err != nil {
			return err
		}
		old := map[string]SizeBand{}
		for _, b := range before {
			old[b.Band] = b
		}
		keep := map[string]bool{}
		for _, b := range bands {
			keep[b.Band] = true
		}
		detail := map[string]string{}
		for _, b := range before {
			if keep[b.Band] {
				continue
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM onboarding_applications WHERE size_band = ?`, b.Band).Scan(&n); err != nil {
				return errs.Wrap(err, "count applications in band")
			}
			if n > 0 {
				return errs.E(errs.Conflict, "Band %s cannot be removed: %d application(s) are in it. Change their band first, or keep the band.", b.Band, n)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM size_bands WHERE band = ?`, b.Band); err != nil {
				return errs.Wrap(err, "delete size band")
			}
			detail[b.Band] = "removed"
		}
		for _, b := range bands {
			row := fmt.Sprintf("%s; up to %d staff; implementation %s; annual %s", b.Label, b.UpToStaff, b.ImplementationCost, b.AnnualContribution)
			prev, had := old[b.Band]
			switch {
			case !had:
				_, err = tx.Exec(ctx, `INSERT INTO size_bands (`+bandColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
					b.Band, b.Label, b.UpToStaff, int64(b.ImplementationCost), int64(b.AnnualContribution), now.UnixMicro())
				detail[b.Band] = "added: " + row
			case prev.Label != b.Label || prev.UpToStaff != b.UpToStaff || prev.ImplementationCost != b.ImplementationCost || prev.AnnualContribution != b.AnnualContribution:
				_, err = tx.Exec(ctx, `UPDATE size_bands SET label = ?, up_to_staff = ?, implementation_pence = ?, annual_pence = ?, updated_at = ? WHERE band = ?`,
					b.Label, b.UpToStaff, int64(b.ImplementationCost), int64(b.AnnualContribution), now.UnixMicro(), b.Band)
				detail[b.Band] = "changed to: " + row
			}
			if err != nil {
				return errs.Wrap(err, "save size band")
			}
		}
		if len(detail) == 0 {
			return nil // nothing changed: nothing to audit
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "size_bands.update", "size_bands", "", audit.Success, detail))
	})
	if err != nil {
		return nil, err
	}
	return loadBands(ctx, s.db)
}
