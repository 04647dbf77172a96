package web

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/record"
)

// BenchmarkRenderRecordSummary renders the patient summary page (the
// layout and record_view) for a patient with a typical record, the page
// the record's load benchmark drives.
func BenchmarkRenderRecordSummary(b *testing.B) {
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	items := func(kind string, n int) []record.Item {
		var out []record.Item
		for i := range n {
			out = append(out, record.Item{ID: fmt.Sprintf("%s-%d", kind, i), Type: kind, Date: "2025-01-02", Display: kind + " item with a longish description",
				Status: "active", Organisation: "Meadow Lane Surgery", ODS: "M85001", UpdatedAt: at})
		}
		return out
	}
	v := &record.View{Section: record.Summary, Sections: record.VisibleSections(record.RoleCareProfessional),
		Patient: &record.Patient{NHSNumber: "9990001234", Name: "Ada OKORO", BirthDate: "1961-07-14", Gender: "female", Address: "2 Mill Lane, Leicester, LE2 7QT",
			GPPractice: "Meadow Lane Surgery", Source: "Meadow Lane Surgery", UpdatedAt: at},
		Counts:    map[record.Section]int{record.Appointments: 3, record.Problems: 2, record.Medications: 3, record.Allergies: 1},
		Allergies: items("AllergyIntolerance", 1), Problems: items("Condition", 2), Medications: items("MedicationStatement", 3)}
	pg := &Page{Title: "Ada OKORO – Summary", Nav: "record", P: &authz.Principal{UserID: "u1", Email: "amir.khan@nhs.net", Name: "Amir Khan", MemberOf: []string{"s1"}},
		CSRF: "0123456789abcdef", Now: at, Data: &recordViewData{V: v, Via: record.ViaSearch}}
	benchRender(b, "record_view", pg)
}

// BenchmarkRenderLayout renders the smallest page, for the layout's share.
func BenchmarkRenderLayout(b *testing.B) {
	pg := &Page{Title: "You cannot open the record", Nav: "record", P: &authz.Principal{UserID: "u1", Email: "amir.khan@nhs.net", Name: "Amir Khan"},
		CSRF: "0123456789abcdef", Data: "Your record account is waiting to be set up by the back office."}
	benchRender(b, "record_refused", pg)
}

// benchRender parses the templates as the server does at start-up and
// renders one page, in the layout, for the benchmark's loop.
func benchRender(b *testing.B, page string, pg *Page) {
	b.Helper()
	assets, err := NewAssets()
	if err != nil {
		b.Fatal(err)
	}
	ts, err := parseTemplates(assets)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := ts[page].ExecuteTemplate(&buf, "layout.html", pg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
