package access

import (
	"context"
	_ "embed" // bank holidays
	"encoding/csv"
	"fmt"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
)

// defaultHolidays are the England and Wales bank holidays, loaded into the
// bank_holidays table when it is empty. They are data: administrators may
// add years without a new release.
//
//go:embed bank_holidays.csv
var defaultHolidays string

// london is where working days begin and end.
var london = clock.London

// Calendar tells working days from weekends and bank holidays.
type Calendar struct {
	holidays map[string]string // YYYY-MM-DD → name
}

// NewCalendar returns a calendar with the given holidays (YYYY-MM-DD → name).
func NewCalendar(holidays map[string]string) *Calendar { return &Calendar{holidays: holidays} }

// LoadCalendar reads the bank holidays, first filling an empty table with the
// embedded England and Wales dates.
func LoadCalendar(ctx context.Context, db *store.DB) (*Calendar, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM bank_holidays`).Scan(&n); err != nil {
		return nil, fmt.Errorf("count bank holidays: %w", err)
	}
	if n == 0 {
		recs, err := csv.NewReader(strings.NewReader(defaultHolidays)).ReadAll()
		if err != nil {
			return nil, err
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			for _, r := range recs[1:] {
				// Another instance may be loading them at the same moment.
				if _, err := tx.Exec(ctx, `INSERT INTO bank_holidays (day, name) VALUES (?, ?) ON CONFLICT (day) DO NOTHING`, r[0], r[1]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load bank holidays: %w", err)
		}
	}
	rows, err := db.Query(ctx, `SELECT day, name FROM bank_holidays`)
	if err != nil {
		return nil, fmt.Errorf("read bank holidays: %w", err)
	}
	defer rows.Close()
	h := map[string]string{}
	for rows.Next() {
		var d, name string
		if err := rows.Scan(&d, &name); err != nil {
			return nil, err
		}
		h[d] = name
	}
	return &Calendar{holidays: h}, rows.Err()
}

// IsWorkingDay reports whether the day of t (in England) is a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	t = t.In(london)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, holiday := c.holidays[t.Format("2006-01-02")]
	return !holiday
}

// AddWorkingDays returns the moment n working days after start. A start
// outside working days counts from the beginning of the next working day;
// each working day then moves the time one working day on, so a request
// validated at 10:00 on a Friday with a 5-day SLA is due at 10:00 the next
// Friday, or later by one day for each bank holiday in between.
func (c *Calendar) AddWorkingDays(start time.Time, n int) time.Time {
	t := start.In(london)
	if !c.IsWorkingDay(t) {
		for !c.IsWorkingDay(t) {
			t = midnightAfter(t)
		}
	}
	for i := 0; i < n; {
		t = t.AddDate(0, 0, 1)
		if c.IsWorkingDay(t) {
			i++
		}
	}
	return t.UTC()
}

// WorkingDaysBetween counts the working days that start after a and on or
// before b (0 when b is not after a); for "open for N working days".
func (c *Calendar) WorkingDaysBetween(a, b time.Time) int {
	n := 0
	for d := midnightAfter(a.In(london)); !d.After(b.In(london)); d = d.AddDate(0, 0, 1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

func midnightAfter(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, london)
}
