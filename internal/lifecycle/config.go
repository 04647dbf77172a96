package lifecycle

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London on machines without a zone database
)

// Config holds the numbers of the automatic rules. Zero fields take the
// defaults (see Defaults); Validate refuses values out of range.
type Config struct {
	// InactivityDays is how long an active record account may go unused
	// before it is deactivated (90).
	InactivityDays int
	// InactivityWarningDays is how many days before that deactivation the
	// member is warned (14). It must be less than InactivityDays.
	InactivityWarningDays int
	// FinishingReminderDays is how many days before a finishing date the
	// authorisers are reminded (14).
	FinishingReminderDays int
	// BatchSize is how many due rows one transaction changes (2,000): big
	// enough to share commits and statements, small enough not to hold the
	// single SQLite writer for long.
	BatchSize int
	// Interval is how often the sweep runs (1 hour). The rules are daily;
	// running hourly means a change is at most an hour late.
	Interval time.Duration
	// TimeZone is where finishing dates are local dates ("Europe/London").
	TimeZone string
	// ServiceName is the record's name in e-mails ("Shared Care Record").
	ServiceName string
	// BaseURL is the portal's address for links in e-mails.
	BaseURL string
}

// Defaults returns the configuration the seeds fix.
func Defaults() Config {
	return Config{InactivityDays: 90, InactivityWarningDays: 14, FinishingReminderDays: 14, BatchSize: 2000,
		Interval: time.Hour, TimeZone: "Europe/London", ServiceName: "Shared Care Record"}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.InactivityDays == 0 {
		c.InactivityDays = d.InactivityDays
	}
	if c.InactivityWarningDays == 0 {
		c.InactivityWarningDays = d.InactivityWarningDays
	}
	if c.FinishingReminderDays == 0 {
		c.FinishingReminderDays = d.FinishingReminderDays
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.TimeZone == "" {
		c.TimeZone = d.TimeZone
	}
	if c.ServiceName == "" {
		c.ServiceName = d.ServiceName
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	return c
}

// maxBatch keeps one chunk's id list well under SQLite's limit of 32,766
// parameters per statement.
const maxBatch = 5000

// Validate checks the configuration (after defaults) and says what is wrong
// in words an operator can act on.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.InactivityDays < 1 || c.InactivityDays > 3650:
		return fmt.Errorf("the inactivity period must be between 1 and 3650 days (got %d)", c.InactivityDays)
	case c.InactivityWarningDays < 1 || c.InactivityWarningDays >= c.InactivityDays:
		return fmt.Errorf("the inactivity warning must come between 1 day and %d days before deactivation (got %d)",
			c.InactivityDays-1, c.InactivityWarningDays)
	case c.FinishingReminderDays < 1 || c.FinishingReminderDays > 365:
		return fmt.Errorf("the finishing-date reminder must come between 1 and 365 days before (got %d)", c.FinishingReminderDays)
	case c.BatchSize < 1 || c.BatchSize > maxBatch:
		return fmt.Errorf("the sweep batch size must be between 1 and %d (got %d)", maxBatch, c.BatchSize)
	case c.Interval < time.Minute || c.Interval > 24*time.Hour:
		return fmt.Errorf("the sweep interval must be between 1 minute and 24 hours (got %s)", c.Interval)
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		return fmt.Errorf("unknown time zone %q for finishing dates", c.TimeZone)
	}
	return nil
}

// FromEnv fills unset numbers from the environment:
// CAREGATE_INACTIVITY_DAYS, CAREGATE_INACTIVITY_WARNING_DAYS and
// CAREGATE_FINISHING_REMINDER_DAYS. A value that is not a number is kept as
// -1 so that Validate names it.
func (c *Config) FromEnv() {
	for _, v := range []struct {
		name string
		to   *int
	}{
		{"CAREGATE_INACTIVITY_DAYS", &c.InactivityDays},
		{"CAREGATE_INACTIVITY_WARNING_DAYS", &c.InactivityWarningDays},
		{"CAREGATE_FINISHING_REMINDER_DAYS", &c.FinishingReminderDays},
	} {
		s := strings.TrimSpace(os.Getenv(v.name))
		if *v.to != 0 || s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1
		}
		*v.to = n
	}
}
