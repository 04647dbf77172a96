package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// The automatic rules' numbers are configuration, from the environment
// too, and a number out of range stops the server from starting.
func TestLifecycleIsConfiguration(t *testing.T) {
	t.Setenv("CAREGATE_INACTIVITY_DAYS", "60")
	cfg := app.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"}
	cfg.FromEnv()
	a, _ := start(t, cfg, app.Options{})
	if c := a.Lifecycle.Config(); c.InactivityDays != 60 || c.InactivityWarningDays != 14 || c.FinishingReminderDays != 14 {
		t.Fatalf("lifecycle configuration %+v, want 60 days of inactivity from CAREGATE_INACTIVITY_DAYS", c)
	}
	t.Setenv("CAREGATE_INACTIVITY_DAYS", "ninety")
	bad := app.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"}
	bad.FromEnv()
	if _, err := app.New(context.Background(), bad, app.Options{Log: quiet}); err == nil || !strings.Contains(err.Error(), "inactivity period") {
		t.Fatalf("New with a bad inactivity period: %v", err)
	}
}

// In demo mode, moving the clock runs the automatic rules at once: an
// invitation is seen expiring as soon as the clock passes its 30 days.
func TestDemoClockRunsTheRules(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		cfg := app.Config{DataDir: o.DataDir, DatabaseURL: o.URL, Addr: "127.0.0.1:0", Demo: true}
		a, _ := start(t, cfg, app.Options{Clock: &clock.Offset{}})
		ctx := context.Background()
		now := a.Clock.Now().UnixMicro()
		for _, q := range []string{
			`INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
				VALUES ('o1', 'ZZ1', 'Demo Trust', 'active', 'read_only', 'site_authoriser', 'nhs.net', ?, ?)`,
			`INSERT INTO sites (id, organisation_id, name, status, created_at, updated_at) VALUES ('s1', 'o1', 'Ward 7', 'active', ?, ?)`,
			`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at) VALUES ('u1', 'sam@nhs.net', 'Sam', 'Lead', ?, ?)`,
		} {
			if _, err := a.DB.Exec(ctx, q, now, now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.DB.Exec(ctx, `INSERT INTO invitations (id, site_id, organisation_id, given_name, family_name, email, phone, job_title,
			job_category, record_role, ig_confirmed, token_hash, status, open_key, created_by, created_at, expires_at, sent_at, updated_at)
			VALUES ('i1', 's1', 'o1', 'Ivy', 'Invitee', 'ivy@nhs.net', '', 'Nurse', 'Nursing and midwifery', 'care_professional', 1, 'h1',
			'pending', 's1:ivy@nhs.net', 'u1', ?, ?, ?, ?)`, now, now+(30*24*time.Hour).Microseconds(), now, now); err != nil {
			t.Fatal(err)
		}
		a.DemoClock.Advance(29 * 24 * time.Hour)
		status := func() string {
			var s string
			if err := a.DB.QueryRow(ctx, `SELECT status FROM invitations WHERE id = 'i1'`).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := status(); s != "pending" {
			t.Fatalf("after 29 days: %s", s)
		}
		a.DemoClock.Advance(24 * time.Hour)
		if s := status(); s != "expired" {
			t.Fatalf("after 30 days: %s", s)
		}
	})
}
