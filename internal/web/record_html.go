package web

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/record"
)

// The viewer's content is written in Go, not by html/template: the summary
// is the record's commonest page, and html/template calls an escaper through
// reflection for every value, which made its rendering a third of the
// page's CPU. Every value taken from the record goes through text or url
// below; the markup around them is constant. record_html_internal_test.go
// renders hostile values and checks that none comes out as markup.

// viewWriter builds the page.
type viewWriter struct{ strings.Builder }

// raw writes constant markup.
func (w *viewWriter) raw(s string) { w.WriteString(s) }

// text writes a value, escaped for element content and for attribute
// values, which are always double-quoted here.
func (w *viewWriter) text(s string) { w.WriteString(template.HTMLEscapeString(s)) }

// path writes one path segment of a URL, escaped for the URL and then for
// the attribute.
func (w *viewWriter) path(s string) { w.text(url.PathEscape(s)) }

// HTML is the viewer's content: the banner, the section tabs, and the
// section (for the summary: its counts and three lists).
func (d *recordViewData) HTML() template.HTML {
	var w viewWriter
	w.Grow(8 << 10)
	p := d.V.Patient
	w.raw(`<a class="nhsuk-back-link" href="/record">Find another patient</a>
<section class="cg-patient-banner" aria-label="Patient" id="patient-banner">
  <h1 class="nhsuk-u-margin-bottom-2" id="patient-name">`)
	w.text(p.Name)
	w.raw(`</h1>
  <dl class="nhsuk-summary-list nhsuk-u-margin-bottom-2">
`)
	row := func(key, id, class, value string) {
		w.raw(`    <div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">`)
		w.raw(key)
		w.raw(`</dt><dd class="nhsuk-summary-list__value`)
		w.raw(class)
		w.raw(`"`)
		if id != "" {
			w.raw(` id="`)
			w.raw(id)
			w.raw(`"`)
		}
		w.raw(`>`)
		w.text(value)
		w.raw("</dd></div>\n")
	}
	row("NHS number", "patient-nhs", " cg-code", p.NHSNumber)
	row("Date of birth", "patient-dob", "", p.BirthDate)
	row("Sex", "", "", label(p.Gender))
	row("Address", "", "", p.Address)
	row("GP practice", "patient-gp", "", p.GPPractice)
	w.raw(`  </dl>
  <p class="nhsuk-body-s">Demographics from `)
	w.text(p.Source)
	w.raw(`, updated `)
	w.text(formatDate(p.UpdatedAt))
	w.raw(` UTC.`)
	if d.Via == record.ViaLaunch {
		w.raw(` <strong class="nhsuk-tag nhsuk-tag--blue" id="launched">Opened from your clinical system</strong>`)
	}
	w.raw(` Read only. Your view is recorded in the audit trail.</p>
</section>
<nav aria-label="Sections of the record" id="sections">
  <ul class="nhsuk-list cg-record-tabs">
  `)
	v := d.V
	for _, sec := range v.Sections {
		w.raw(`<li><a href="/record/patients/`)
		w.path(p.NHSNumber)
		w.raw(`/`)
		w.path(string(sec))
		w.raw(`" id="tab-`)
		w.text(string(sec))
		w.raw(`"`)
		if sec == v.Section {
			w.raw(` aria-current="page"`)
		}
		w.raw(`>`)
		w.text(record.SectionTitle(sec))
		w.raw(`</a></li>`)
	}
	w.raw(`
  </ul>
</nav>
<h2 id="section-title">`)
	w.text(record.SectionTitle(v.Section))
	w.raw("</h2>\n")
	if v.Section != record.Summary {
		w.items(record.SectionTitle(v.Section), "items", v.Items)
		return template.HTML(w.String())
	}
	w.raw(`<ul class="nhsuk-list" id="summary-counts">
  `)
	for _, sec := range v.Sections {
		if sec != record.Summary {
			w.raw(`<li>`)
			w.text(record.SectionTitle(sec))
			w.raw(`: `)
			w.raw(strconv.Itoa(v.Counts[sec]))
			w.raw(`</li>`)
		}
	}
	w.raw("\n</ul>\n")
	w.items("Allergies", "summary-allergies", v.Allergies)
	w.items("Problems", "summary-problems", v.Problems)
	w.items("Medications", "summary-medications", v.Medications)
	return template.HTML(w.String())
}

// items writes one list of items, titled title, as the table id, or says
// there are none.
func (w *viewWriter) items(title, id string, items []record.Item) {
	if len(items) == 0 {
		w.raw(`<p class="cg-no-items">No `)
		w.text(title)
		w.raw(" recorded.</p>\n")
		return
	}
	w.raw(`<div class="cg-table-scroll" tabindex="0" role="region" aria-label="`)
	w.text(title)
	w.raw(`">
<table class="nhsuk-table" id="`)
	w.text(id)
	w.raw(`">
  <caption class="nhsuk-table__caption">`)
	w.text(title)
	w.raw(`</caption>
  <thead class="nhsuk-table__head"><tr class="nhsuk-table__row"><th scope="col" class="nhsuk-table__header">Date</th><th scope="col" class="nhsuk-table__header">Details</th><th scope="col" class="nhsuk-table__header">Status</th><th scope="col" class="nhsuk-table__header">From</th><th scope="col" class="nhsuk-table__header"><span class="nhsuk-u-visually-hidden">Report a problem</span></th></tr></thead>
  <tbody class="nhsuk-table__body">
  `)
	for i := range items {
		it := &items[i]
		w.raw(`<tr class="nhsuk-table__row cg-record-item" data-type="`)
		w.text(it.Type)
		w.raw(`"><td class="nhsuk-table__cell">`)
		w.text(it.Date)
		w.raw(`</td><td class="nhsuk-table__cell">`)
		w.text(it.Display)
		w.raw(`</td><td class="nhsuk-table__cell">`)
		w.text(it.Status)
		w.raw(`</td><td class="nhsuk-table__cell cg-provenance">`)
		w.text(it.Organisation)
		w.raw(` (`)
		w.text(it.ODS)
		w.raw(`), sent `)
		w.text(formatDate(it.UpdatedAt))
		w.raw(`</td>
  <td class="nhsuk-table__cell"><a href="/record/items/`)
		w.path(it.ID)
		w.raw(`/report">Report a problem<span class="nhsuk-u-visually-hidden"> with `)
		w.text(it.Display)
		w.raw(`</span></a></td></tr>`)
	}
	w.raw(`
  </tbody>
</table>
</div>
`)
}
