package web

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/record"
	"golang.org/x/net/html"
)

// The viewer's content is written without html/template (record_html.go),
// so this test gives every value that comes from the record a hostile
// form and parses the page: each must come back as the same text, in its
// place, and never as markup of its own.
func TestRecordViewEscapesEveryValue(t *testing.T) {
	const bad = `<script>alert(1)</script> "q" 'a' & +1 <img src=x onerror=alert(2)>`
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	it := record.Item{ID: `a/b"c`, Type: bad, Date: bad, Display: bad, Status: bad, Organisation: bad, ODS: bad, UpdatedAt: at}
	for _, tc := range []struct {
		section record.Section
		via     string
	}{{record.Summary, record.ViaSearch}, {record.Problems, record.ViaLaunch}} {
		v := &record.View{Section: tc.section, Sections: record.VisibleSections(record.RoleCareProfessional),
			Patient: &record.Patient{NHSNumber: "9990001234", Name: bad, BirthDate: bad, Gender: bad, Address: bad, GPPractice: bad, Source: bad, UpdatedAt: at},
			Counts:  map[record.Section]int{record.Problems: 7}, Allergies: []record.Item{it}, Items: []record.Item{it}}
		page := string((&recordViewData{V: v, Via: tc.via}).HTML())
		doc, err := html.Parse(strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		var texts, hrefs []string
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if n.Data == "script" || n.Data == "img" {
					t.Fatalf("%s: a value came out as a <%s> element", tc.section, n.Data)
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") || a.Key == "src" || a.Key == "q" {
						t.Fatalf("%s: a value came out as the attribute %s", tc.section, a.Key)
					}
					if a.Key == "href" {
						hrefs = append(hrefs, a.Val)
					}
					if a.Key == "data-type" && a.Val != bad {
						t.Errorf("%s: data-type is %q, want the item's type", tc.section, a.Val)
					}
				}
			}
			if n.Type == html.TextNode {
				texts = append(texts, n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		all := strings.Join(texts, "")
		// name, birth date, address, GP, source, and per item its date,
		// display (twice), status, organisation and code.
		if n := strings.Count(all, bad); n < 12 {
			t.Errorf("%s: the hostile value is shown as text %d times, want at least 12:\n%s", tc.section, n, page)
		}
		if !strings.Contains(strings.Join(hrefs, " "), `/record/items/a%2Fb%22c/report`) {
			t.Errorf("%s: the item's report link does not escape its id: %v", tc.section, hrefs)
		}
		if got := strings.Contains(page, `id="launched"`); got != (tc.via == record.ViaLaunch) {
			t.Errorf("%s via %s: launched mark shown = %v", tc.section, tc.via, got)
		}
		if tc.section == record.Summary && !strings.Contains(all, "Problems: 7") {
			t.Errorf("summary counts missing:\n%s", page)
		}
	}
}
