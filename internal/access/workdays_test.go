package access

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func embeddedCalendar(t *testing.T) *Calendar {
	recs, err := csv.NewReader(strings.NewReader(defaultHolidays)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for _, r := range recs[1:] {
		day, err := time.Parse("2006-01-02", r[0])
		if err != nil {
			t.Fatalf("bad date %q", r[0])
		}
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			t.Errorf("bank holiday %s (%s) falls on a %s", r[0], r[1], wd)
		}
		h[r[0]] = r[1]
	}
	return NewCalendar(h)
}

func TestBankHolidaysAreWeekdaysAndEightAYear(t *testing.T) {
	c := embeddedCalendar(t)
	per := map[string]int{}
	for d := range c.holidays {
		per[d[:4]]++
	}
	for y := 2024; y <= 2028; y++ {
		if n := per[time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006")]; n != 8 {
			t.Errorf("%d: %d bank holidays, want 8", y, n)
		}
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := embeddedCalendar(t)
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, london)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		name, start, want string
		n                 int
	}{
		{"plain week", "2026-11-20 10:00", "2026-11-27 10:00", 5},                           // Friday → Friday
		{"over Easter", "2026-04-01 09:30", "2026-04-10 09:30", 5},                          // Wed; Good Friday and Easter Monday skipped
		{"over Christmas with a substitute day", "2026-12-23 14:00", "2027-01-04 14:00", 5}, // 24, 29, 30, 31 Dec, 4 Jan,
		{"start on a Saturday", "2026-11-21 16:00", "2026-11-30 00:00", 5},
		{"start on a bank holiday", "2026-08-31 12:00", "2026-09-08 00:00", 5},
		{"across the clocks going back", "2026-10-23 10:00", "2026-10-30 10:00", 5},
		{"zero days", "2026-11-20 10:00", "2026-11-20 10:00", 0},
	}
	for _, tc := range cases {
		got := c.AddWorkingDays(at(tc.start), tc.n).In(london)
		if !got.Equal(at(tc.want)) {
			t.Errorf("%s: %s + %d working days = %s, want %s", tc.name, tc.start, tc.n, got.Format("Mon 2006-01-02 15:04"), tc.want)
		}
	}
	if n := c.WorkingDaysBetween(at("2026-12-24 09:00"), at("2027-01-04 09:00")); n != 4 {
		t.Errorf("working days 24 Dec → 4 Jan: %d, want 4 (29, 30, 31 Dec and 4 Jan)", n)
	}
}
