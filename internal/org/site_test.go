package org_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestCreateSite(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		leeds := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		york := e.organisation(t, "RCB", "York and Scarborough")

		s, err := e.svc.CreateSite(ctx, e.admin, leeds.ID, org.SiteInput{Name: ptr("  Ward 7 ")})
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "Ward 7" || s.Status != org.SiteActive || s.OrganisationID != leeds.ID || !s.CreatedAt.Equal(t0) || s.ID == "" {
			t.Fatalf("created %+v", s)
		}
		got, err := e.svc.Site(ctx, e.admin, s.ID)
		if err != nil || got.Name != "Ward 7" || got.OrganisationID != leeds.ID {
			t.Fatalf("Site = %+v, %v", got, err)
		}
		evs := events(t, db, audit.Filter{Action: "site.create"})
		if len(evs) != 1 || evs[0].ObjectType != "site" || evs[0].ObjectID != s.ID || evs[0].Detail["organisation_id"] != leeds.ID ||
			evs[0].Detail["name"] != "Ward 7" || evs[0].ActorID != e.admin.UserID {
			t.Fatalf("audit %+v", evs)
		}

		before := auditCount(t, db)
		// The name is unique within an organisation, not across them.
		_, err = e.svc.CreateSite(ctx, e.admin, leeds.ID, org.SiteInput{Name: ptr("Ward 7")})
		fieldMessage(t, wantCode(t, err, errs.Conflict), "name")
		for _, in := range []org.SiteInput{{}, {Name: ptr("  ")}, {Name: ptr(strings.Repeat("x", 201))}, {Name: ptr("A\nB")},
			{Name: ptr("Ward 8"), Status: ptr("open")}} {
			_, err = e.svc.CreateSite(ctx, e.admin, leeds.ID, in)
			wantCode(t, err, errs.Invalid)
		}
		_, err = e.svc.CreateSite(ctx, e.admin, "no-such-org", org.SiteInput{Name: ptr("Ward 1")})
		wantCode(t, err, errs.NotFound)
		if n := count(t, db, "sites"); n != 1 {
			t.Fatalf("%d sites after refused creations", n)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("refused creations wrote %d audit events", after-before)
		}
		if _, err := e.svc.CreateSite(ctx, e.admin, york.ID, org.SiteInput{Name: ptr("Ward 7"), Status: ptr(org.SiteClosed)}); err != nil {
			t.Fatalf("same name in another organisation: %v", err)
		}

		// Sites are listed by name.
		e.site(t, leeds.ID, "Emergency Department")
		e.site(t, leeds.ID, "Pharmacy")
		sites, err := e.svc.Sites(ctx, e.admin, leeds.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range sites {
			names = append(names, s.Name)
		}
		if strings.Join(names, ",") != "Emergency Department,Pharmacy,Ward 7" {
			t.Fatalf("sites %v", names)
		}
		_, err = e.svc.Sites(ctx, e.admin, "no-such-org")
		wantCode(t, err, errs.NotFound)
	})
}

func TestUpdateSite(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		o := e.organisation(t, "RR8", "Leeds Teaching Hospitals")
		s := e.site(t, o.ID, "Ward 1")
		e.site(t, o.ID, "Ward 2")
		e.clock.Advance(time.Hour)

		up, err := e.svc.UpdateSite(ctx, e.admin, s.ID, org.SiteInput{Name: ptr("Ward 1A")})
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != "Ward 1A" || up.Status != org.SiteActive || !up.UpdatedAt.Equal(t0.Add(time.Hour)) || !up.CreatedAt.Equal(t0) {
			t.Fatalf("updated %+v", up)
		}
		closed, err := e.svc.UpdateSite(ctx, e.admin, s.ID, org.SiteInput{Status: ptr(org.SiteClosed)})
		if err != nil || closed.Status != org.SiteClosed || closed.Name != "Ward 1A" {
			t.Fatalf("close: %+v, %v", closed, err)
		}
		if got, _ := e.svc.Site(ctx, e.admin, s.ID); got.Status != org.SiteClosed || got.Name != "Ward 1A" {
			t.Fatalf("stored %+v", got)
		}
		evs := events(t, db, audit.Filter{Action: "site.update", ObjectID: s.ID})
		if len(evs) != 2 || evs[0].Detail["name"] != "Ward 1 -> Ward 1A" || evs[1].Detail["status"] != "active -> closed" ||
			len(evs[0].Detail) != 1 || len(evs[1].Detail) != 1 {
			t.Fatalf("audit %+v", evs)
		}

		before := auditCount(t, db)
		_, err = e.svc.UpdateSite(ctx, e.admin, s.ID, org.SiteInput{Name: ptr("Ward 2")})
		wantCode(t, err, errs.Conflict)
		_, err = e.svc.UpdateSite(ctx, e.admin, s.ID, org.SiteInput{Status: ptr("deleted")})
		fieldMessage(t, wantCode(t, err, errs.Invalid), "status")
		_, err = e.svc.UpdateSite(ctx, e.admin, "no-such-site", org.SiteInput{Name: ptr("X")})
		wantCode(t, err, errs.NotFound)
		if got, _ := e.svc.Site(ctx, e.admin, s.ID); got.Name != "Ward 1A" || got.Status != org.SiteClosed {
			t.Fatalf("refused update applied: %+v", got)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("refused updates wrote %d audit events", after-before)
		}
	})
}
