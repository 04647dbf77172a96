package onboarding_test

import (
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestPence(t *testing.T) {
	for _, c := range []struct {
		p    onboarding.Pence
		want string
	}{{0, "£0.00"}, {5, "£0.05"}, {50000, "£500.00"}, {1250000, "£12,500.00"}, {123456789, "£1,234,567.89"}, {-150, "-£1.50"}} {
		if got := c.p.String(); got != c.want {
			t.Errorf("Pence(%d) = %q, want %q", c.p, got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		want onboarding.Pence
		ok   bool
	}{
		{"12500", 1250000, true}, {"£12,500.50", 1250050, true}, {" 7.5 ", 750, true}, {"0", 0, true},
		{"-5", 0, false}, {"1.234", 0, false}, {"", 0, false}, {"ten", 0, false}, {"1e5", 0, false},
	} {
		got, ok := onboarding.ParsePounds(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParsePounds(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestCostsFollowTheSizeBand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bands, err := e.svc.SizeBands(ctx, e.admin)
		if err != nil || len(bands) != 6 || bands[0].Band != "A" || bands[5].Band != "F" || bands[5].UpToStaff != 0 {
			t.Fatalf("default bands = %+v, %v", bands, err)
		}
		small, large := e.input(), e.input()
		small.SizeBand, large.SizeBand = "a", "E"
		s := e.submit(t, small)
		if s.SizeBand != "A" || s.ImplementationCost != 50000 || s.AnnualContribution != 25000 {
			t.Fatalf("band A application costs %s / %s", s.ImplementationCost, s.AnnualContribution)
		}
		l := e.inState(t, onboarding.StateLive)    // band B
		_ = e.inState(t, onboarding.StateApproved) // band B
		_ = e.inState(t, onboarding.StateRejected) // not counted
		e.submit(t, large)                         // submitted: not counted
		if l.ImplementationCost != 150000 || l.AnnualContribution != 75000 {
			t.Fatalf("band B costs %s / %s", l.ImplementationCost, l.AnnualContribution)
		}
		sum, err := e.svc.Summarise(ctx, e.admin)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Live != 1 || sum.LiveImplementation != 150000 || sum.LiveAnnual != 75000 ||
			sum.Approved != 1 || sum.ApprovedImplementation != 150000 || sum.Submitted != 2 {
			t.Fatalf("summary = %+v", sum)
		}
		// A new table changes what is shown at once.
		in := make([]onboarding.SizeBandInput, len(bands))
		for i, b := range bands {
			in[i] = onboarding.SizeBandInput{Band: b.Band, Label: b.Label, UpToStaff: b.UpToStaff,
				ImplementationCost: b.ImplementationCost, AnnualContribution: b.AnnualContribution}
		}
		in[1].AnnualContribution = 80000
		if _, err := e.svc.SetSizeBands(ctx, e.admin, in); err != nil {
			t.Fatal(err)
		}
		if sum, _ = e.svc.Summarise(ctx, e.admin); sum.LiveAnnual != 80000 {
			t.Fatalf("live annual contributions %s after the change, want £800.00", sum.LiveAnnual)
		}
		if a, _ := e.svc.Application(ctx, e.admin, l.ID); a.AnnualContribution != 80000 {
			t.Fatalf("application shows %s after the change", a.AnnualContribution)
		}
	})
}

func TestSetSizeBands(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.submit(t, e.input()) // in band B
		before := auditCount(t, db)
		for _, c := range []struct {
			name  string
			code  errs.Code
			field string
			in    []onboarding.SizeBandInput
		}{
			{"empty", errs.Invalid, "items", nil},
			{"bad code", errs.Invalid, "items[0].band", []onboarding.SizeBandInput{{Band: "b-1", Label: "Small", UpToStaff: 0}}},
			{"twice", errs.Invalid, "items[1].band", []onboarding.SizeBandInput{{Band: "B", Label: "Small", UpToStaff: 10}, {Band: "b", Label: "Big"}}},
			{"no label", errs.Invalid, "items[0].label", []onboarding.SizeBandInput{{Band: "B", UpToStaff: 0}}},
			{"negative staff", errs.Invalid, "items[0].up_to_staff", []onboarding.SizeBandInput{{Band: "B", Label: "x", UpToStaff: -1}}},
			{"negative cost", errs.Invalid, "items[0].implementation_cost_pence", []onboarding.SizeBandInput{{Band: "B", Label: "x", ImplementationCost: -1}}},
			{"huge cost", errs.Invalid, "items[0].annual_contribution_pence", []onboarding.SizeBandInput{{Band: "B", Label: "x", AnnualContribution: 1 << 60}}},
			{"two open-ended", errs.Invalid, "items", []onboarding.SizeBandInput{{Band: "B", Label: "x"}, {Band: "C", Label: "y"}}},
			{"same limit", errs.Invalid, "items", []onboarding.SizeBandInput{{Band: "B", Label: "x", UpToStaff: 9}, {Band: "C", Label: "y", UpToStaff: 9}}},
			{"removes a band in use", errs.Conflict, "", []onboarding.SizeBandInput{{Band: "A", Label: "Everyone"}}},
		} {
			_, err := e.svc.SetSizeBands(ctx, e.admin, c.in)
			wantCode(t, err, c.code)
			if c.field != "" && !hasField(err, c.field) {
				t.Errorf("%s: error %v does not name %s", c.name, err, c.field)
			}
			if c.code == errs.Conflict && !strings.Contains(errs.As(err).Message, "Band B cannot be removed") {
				t.Errorf("%s: refusal %q", c.name, errs.As(err).Message)
			}
		}
		if bands, _ := e.svc.SizeBands(ctx, e.admin); len(bands) != 6 || auditCount(t, db) != before {
			t.Fatal("refused tables changed something")
		}
		// Keep B (in use), change it, add G, remove the others; given out of order.
		got, err := e.svc.SetSizeBands(ctx, e.admin, []onboarding.SizeBandInput{
			{Band: "g", Label: "Everyone else", UpToStaff: 0, ImplementationCost: 100, AnnualContribution: 50},
			{Band: "B", Label: "Up to 100 staff", UpToStaff: 100, ImplementationCost: 200000, AnnualContribution: 90000},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Band != "B" || got[1].Band != "G" || got[0].AnnualContribution != 90000 || !got[0].UpdatedAt.Equal(t0) {
			t.Fatalf("new table = %+v", got)
		}
		if n := actions(t, db, "size_bands.update"); n != 1 {
			t.Fatalf("%d size_bands.update events, want 1", n)
		}
		// Saving the same table again changes nothing and audits nothing.
		before = auditCount(t, db)
		if _, err := e.svc.SetSizeBands(ctx, e.admin, []onboarding.SizeBandInput{
			{Band: "B", Label: "Up to 100 staff", UpToStaff: 100, ImplementationCost: 200000, AnnualContribution: 90000},
			{Band: "G", Label: "Everyone else", UpToStaff: 0, ImplementationCost: 100, AnnualContribution: 50},
		}); err != nil || auditCount(t, db) != before {
			t.Fatalf("unchanged table: %v, %d events", err, auditCount(t, db)-before)
		}
	})
}
