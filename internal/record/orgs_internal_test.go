package record

import (
	"context"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func addOrganisation(t *testing.T, db *store.DB, id, ods, name string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
		VALUES (?, ?, ?, 'active', 'read_only', 'site_authoriser', 'nhs.net', 0, 0)`, id, ods, name); err != nil {
		t.Fatal(err)
	}
}

// The organisations' names and ODS codes are read once and used for a
// while: a rename made anywhere (here, straight in the database, as
// another process would) shows once the reading is older than the limit;
// an organisation added meanwhile is found at once.
func TestSuppliersFollowRenamesAndNewOrganisations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		addOrganisation(t, db, "org-a", "A01", "Alpha Practice")
		s := newSuppliers(db, 2*time.Second)
		now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return now }
		get := func(id string) supplier {
			t.Helper()
			o, err := s.get(ctx, id)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			return o
		}
		if o := get("org-a"); o != (supplier{"Alpha Practice", "A01"}) {
			t.Fatalf("first reading: %+v", o)
		}

		if _, err := db.Exec(ctx, `UPDATE organisations SET name = 'Alpha Health Centre', ods_code = 'A02' WHERE id = 'org-a'`); err != nil {
			t.Fatal(err)
		}
		addOrganisation(t, db, "org-b", "B01", "Beta Trust")
		if o := get("org-b"); o != (supplier{"Beta Trust", "B01"}) {
			t.Fatalf("an organisation added after the first reading: %+v", o)
		}
		// Looking up the new one read the table again, rename included.
		if o := get("org-a"); o != (supplier{"Alpha Health Centre", "A02"}) {
			t.Fatalf("after the second reading: %+v", o)
		}

		if _, err := db.Exec(ctx, `UPDATE organisations SET name = 'Alpha Surgery' WHERE id = 'org-a'`); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
		if o := get("org-a"); o.Name != "Alpha Health Centre" {
			t.Fatalf("a reading younger than the limit was not used: %+v", o)
		}
		now = now.Add(2 * time.Second)
		if o := get("org-a"); o.Name != "Alpha Surgery" {
			t.Fatalf("a rename did not show once the reading was older than the limit: %+v", o)
		}

		if _, err := s.get(ctx, "org-none"); errs.CodeOf(err) != errs.Internal {
			t.Fatalf("an organisation not in the table: %v", err)
		}
	})
}

// With a negative limit every lookup reads the table.
func TestSuppliersNeverRemembered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		addOrganisation(t, db, "org-a", "A01", "Alpha Practice")
		s := newSuppliers(db, -1)
		if o, err := s.get(ctx, "org-a"); err != nil || o.Name != "Alpha Practice" {
			t.Fatalf("%+v %v", o, err)
		}
		if _, err := db.Exec(ctx, `UPDATE organisations SET name = 'Alpha Surgery' WHERE id = 'org-a'`); err != nil {
			t.Fatal(err)
		}
		if o, err := s.get(ctx, "org-a"); err != nil || o.Name != "Alpha Surgery" {
			t.Fatalf("%+v %v", o, err)
		}
	})
}
