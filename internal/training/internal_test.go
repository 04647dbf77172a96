package training

import (
	"testing"
	"time"
)

// Validity periods are calendar months in England, ending on the last day
// of a shorter month, at the same clock time across a change of summer time.
func TestAddMonths(t *testing.T) {
	cases := []struct {
		from   time.Time
		months int
		want   time.Time
	}{
		{time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), 12, time.Date(2027, 11, 2, 9, 0, 0, 0, time.UTC)},
		{time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC), 1, time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC)},
		{time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC), 13, time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)},
		{time.Date(2027, 8, 31, 12, 0, 0, 0, time.UTC), 3, time.Date(2027, 11, 30, 13, 0, 0, 0, time.UTC)},  // 13:00 BST -> 13:00 GMT
		{time.Date(2026, 12, 15, 0, 30, 0, 0, time.UTC), 6, time.Date(2027, 6, 14, 23, 30, 0, 0, time.UTC)}, // 00:30 GMT -> 00:30 BST
	}
	for _, c := range cases {
		if got := addMonths(c.from, c.months); !got.Equal(c.want) {
			t.Errorf("addMonths(%v, %d) = %v, want %v", c.from, c.months, got, c.want)
		}
	}
}

func TestPercent(t *testing.T) {
	cases := []struct {
		pages, done   int
		check, passed bool
		want          int
	}{
		{3, 0, true, false, 0}, {3, 1, true, false, 25}, {3, 3, true, false, 75}, {3, 3, true, true, 100},
		{2, 1, false, false, 50}, {2, 2, false, false, 100}, {3, 1, false, false, 33}, {0, 0, false, false, 0},
	}
	for _, c := range cases {
		if got := percent(c.pages, c.done, c.check, c.passed); got != c.want {
			t.Errorf("percent(%d, %d, %v, %v) = %d, want %d", c.pages, c.done, c.check, c.passed, got, c.want)
		}
	}
}
