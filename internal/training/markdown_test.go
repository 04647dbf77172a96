package training_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/training"
)

// Hostile page content renders to HTML without script: raw HTML is dropped,
// and links or images with a scheme outside http, https, mailto and tel
// lose their address, however they are spelt.
func TestMarkdownIsSafe(t *testing.T) {
	hostile := map[string]string{
		"script block":          "<script>alert(1)</script>",
		"inline script":         "Hello <script>alert(1)</script> world",
		"img onerror":           `<img src=x onerror="alert(1)">`,
		"iframe":                `<iframe src="https://evil.example"></iframe>`,
		"svg onload":            `<svg onload=alert(1)></svg>`,
		"style":                 `<style>body{display:none}</style>`,
		"object":                `<object data="javascript:alert(1)"></object>`,
		"javascript link":       "[click](javascript:alert(1))",
		"upper-case scheme":     "[click](JaVaScRiPt:alert(1))",
		"entity-encoded scheme": "[click](&#x6A;avascript:alert(1))",
		"colon entity":          "[click](javascript&colon;alert(1))",
		"tab in the scheme":     "[click](<java\tscript:alert(1)>)",
		"leading space":         "[click](< javascript:alert(1)>)",
		"vbscript":              "[click](vbscript:msgbox(1))",
		"data URL":              "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
		"javascript image":      "![alt text](javascript:alert(1))",
		"javascript autolink":   "<javascript:alert(1)>",
		"reference link":        "[click][x]\n\n[x]: javascript:alert(1)",
		"link title quote":      `[click](https://ok.example "a\" onmouseover=\"alert(1)")`,
		"attribute syntax":      "## Heading {onclick=alert(1)}",
		"html in a table":       "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |",
		"closing textarea":      "</textarea><script>alert(1)</script>",
		"comment trick":         "<!-- --><script>alert(1)</script><!-- -->",
		"nested in emphasis":    "*<b onclick=alert(1)>bold</b>*",
	}
	for name, src := range hostile {
		t.Run(name, func(t *testing.T) {
			out, _ := training.RenderMarkdown(src)
			assertSafe(t, string(out))
		})
	}

	// Warnings tell the administrator what members will not see.
	_, w := training.RenderMarkdown("<script>alert(1)</script>\n\n[x](javascript:alert(1))")
	if len(w) != 2 {
		t.Errorf("warnings %q, want one for HTML and one for the link", w)
	}
	_, w = training.RenderMarkdown("Plain text with a [link](https://www.nhs.uk/).")
	if len(w) != 0 {
		t.Errorf("warnings for safe content: %q", w)
	}

	// Ordinary content still works.
	out, _ := training.RenderMarkdown("## When to look\n\nOnly for **direct care**:\n\n1. one\n2. two\n\n" +
		"| Role | Sees |\n|---|---|\n| Administrator | demographics |\n\n" +
		"See [the NHS website](https://www.nhs.uk/), [help](/help#top), <https://www.nhs.uk/> or [mail us](mailto:team@nhs.net).\n\n" +
		"A [javascript link](javascript:alert(1)) keeps its words.")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find("h2").Text() != "When to look" || doc.Find("strong").Text() != "direct care" || doc.Find("ol li").Length() != 2 ||
		doc.Find("table td").Length() != 2 {
		t.Errorf("formatting lost:\n%s", out)
	}
	var hrefs []string
	doc.Find("a").Each(func(_ int, a *goquery.Selection) { hrefs = append(hrefs, a.AttrOr("href", "")) })
	want := []string{"https://www.nhs.uk/", "/help#top", "https://www.nhs.uk/", "mailto:team@nhs.net"}
	if strings.Join(hrefs, " ") != strings.Join(want, " ") {
		t.Errorf("links %q, want %q", hrefs, want)
	}
	if !strings.Contains(doc.Text(), "A javascript link keeps its words.") {
		t.Errorf("an unsafe link's text was lost:\n%s", out)
	}
}

// assertSafe fails if HTML could run script: a script-bearing element, an
// event-handler attribute, or an address with a dangerous scheme.
func assertSafe(t *testing.T, out string) {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Find("script, iframe, object, embed, style, svg, textarea, b, form, input, link, meta, base").Length(); n > 0 {
		t.Errorf("%d dangerous elements in:\n%s", n, out)
	}
	// An emptied address means only the renderer's own check caught it:
	// the allow-list should have turned the link into text.
	if n := doc.Find(`a[href=""], img[src=""]`).Length(); n > 0 {
		t.Errorf("%d links or images with an emptied address in:\n%s", n, out)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			k, v := strings.ToLower(a.Key), strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
			if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" {
				t.Errorf("attribute %s=%q in:\n%s", a.Key, a.Val, out)
			}
			if (k == "href" || k == "src" || k == "action" || k == "data") && v != "" {
				scheme, _, found := strings.Cut(v, ":")
				if found && !strings.ContainsAny(scheme, "/?#") && scheme != "http" && scheme != "https" && scheme != "mailto" && scheme != "tel" {
					t.Errorf("%s=%q in:\n%s", a.Key, a.Val, out)
				}
			}
		}
	})
}
