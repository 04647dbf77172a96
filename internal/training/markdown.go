package training

import (
	"bytes"
	"html/template"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Module pages are written in Markdown by programme administrators and shown
// to every member, so their HTML must carry no script whatever the text
// says. Two layers make sure of it:
//
//   - goldmark's HTML renderer in its default, safe mode (html.WithUnsafe is
//     never set): raw HTML, inline or as a block (<script>, <iframe>, an
//     <img onerror=…>), is dropped and replaced by a comment, and link and
//     image addresses with the javascript:, vbscript:, file: and data:
//     schemes are emptied;
//   - linkPolicy below, an allow-list: a link or image whose address has a
//     scheme other than http, https, mailto or tel is replaced by its text,
//     whatever spelling or entity tricks it used.
//
// Attribute syntax ({onclick=…}) is not enabled, so content cannot add
// attributes. Pages are rendered when read, not stored as HTML, so a fix to
// the renderer applies to every version at once.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(linkPolicy{}, 1000))),
)

// RenderMarkdown turns a page's Markdown into HTML that is safe to insert
// into a page, and lists what it left out (raw HTML, unsafe links) so that
// an administrator's preview can say so.
func RenderMarkdown(src string) (template.HTML, []string) {
	var buf bytes.Buffer
	ctx := parser.NewContext()
	if err := markdown.Convert([]byte(src), &buf, parser.WithContext(ctx)); err != nil {
		// Convert fails only when the writer does; a bytes.Buffer does not.
		return template.HTML(template.HTMLEscapeString(src)), []string{"The page could not be formatted and is shown as plain text"}
	}
	var warnings []string
	if n, _ := ctx.Get(rawHTMLKey).(int); n > 0 {
		warnings = append(warnings, "HTML in the page is not shown to members: use Markdown instead")
	}
	if n, _ := ctx.Get(unsafeLinkKey).(int); n > 0 {
		warnings = append(warnings, "Links and images may only use http, https, mailto or tel addresses (or addresses within CareGate); others are shown as plain text")
	}
	return template.HTML(buf.String()), warnings
}

var (
	rawHTMLKey    = parser.NewContextKey()
	unsafeLinkKey = parser.NewContextKey()
)

// linkPolicy replaces links and images whose address has a scheme outside
// the allow-list by their text, and counts what it removed and the raw HTML
// the renderer will drop.
type linkPolicy struct{}

func (linkPolicy) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	source := reader.Source()
	var unsafe []ast.Node
	raw := 0
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		// Checked as the renderer will write them: with entity references
		// and backslash escapes resolved (&#x6A;avascript: is javascript:).
		case *ast.Link:
			if !allowedURL(util.URLEscape(v.Destination, true)) {
				unsafe = append(unsafe, n)
			}
		case *ast.Image:
			if !allowedURL(util.URLEscape(v.Destination, true)) {
				unsafe = append(unsafe, n)
			}
		case *ast.AutoLink:
			if !allowedURL(util.URLEscape(v.URL(source), false)) {
				unsafe = append(unsafe, n)
			}
		case *ast.RawHTML, *ast.HTMLBlock:
			raw++
		}
		return ast.WalkContinue, nil
	})
	for _, n := range unsafe {
		parent := n.Parent()
		if parent == nil {
			continue
		}
		var label []byte
		switch v := n.(type) {
		case *ast.AutoLink:
			label = v.Label(source)
		case *ast.Image:
			label = plainText(v, source)
		}
		if label != nil {
			parent.ReplaceChild(parent, n, ast.NewString(label))
			continue
		}
		// A link keeps its text (and any formatting) without the link.
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
	if len(unsafe) > 0 {
		pc.Set(unsafeLinkKey, len(unsafe))
	}
	if raw > 0 {
		pc.Set(rawHTMLKey, raw)
	}
}

// plainText is the text of a node's descendants (an image's alt text).
func plainText(n ast.Node, source []byte) []byte {
	var b bytes.Buffer
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			switch v := c.(type) {
			case *ast.Text:
				b.Write(v.Segment.Value(source))
			case *ast.String:
				b.Write(v.Value)
			}
		}
		return ast.WalkContinue, nil
	})
	return b.Bytes()
}

// allowedURL reports whether a link address is safe: relative (a path, a
// query or a fragment) or one of a few schemes. Whatever comes before the
// first colon that precedes any '/', '?' or '#' is the scheme; browsers
// ignore control characters and white space in it, so those do not make a
// scheme look harmless here either.
func allowedURL(u []byte) bool {
	s := strings.TrimSpace(string(u))
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	colon := strings.IndexByte(s[:end], ':')
	if colon < 0 {
		return true // relative
	}
	switch strings.ToLower(s[:colon]) {
	case "http", "https", "mailto", "tel":
		return true
	}
	return false
}
