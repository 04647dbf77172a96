package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// kindTemplates is the parsed pair of templates of one kind: the plain-text
// one defines "subject", "linktext" and "text"; the HTML one "content",
// which the shared HTML layout wraps.
type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templateFuncs are shared by both engines.
var templateFuncs = map[string]any{
	// words turns a code such as new_user into words: "new user".
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	// lines splits a list given one item a line, for HTML lists.
	"lines": func(s string) []string { return strings.Split(s, "\n") },
}

// parseTemplates parses every kind's templates. The templates are embedded,
// so a failure is a programming error that every test run catches.
func parseTemplates() (map[string]kindTemplates, error) {
	layout, err := htmltemplate.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]kindTemplates, len(kinds))
	for k := range kinds {
		t, err := texttemplate.New(k).Funcs(templateFuncs).Option("missingkey=zero").
			ParseFS(templateFS, "templates/layout.txt", "templates/"+k+".txt")
		if err != nil {
			return nil, fmt.Errorf("template %s.txt: %w", k, err)
		}
		h, err := htmltemplate.Must(layout.Clone()).ParseFS(templateFS, "templates/"+k+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s.html: %w", k, err)
		}
		for _, name := range []string{"subject", "linktext", "text"} {
			if t.Lookup(name) == nil {
				return nil, fmt.Errorf("template %s.txt defines no %q", k, name)
			}
		}
		if h.Lookup("content") == nil {
			return nil, fmt.Errorf("template %s.html defines no \"content\"", k)
		}
		out[k] = kindTemplates{text: t, html: h}
	}
	return out, nil
}

// htmlData is what the HTML layout receives.
type htmlData struct {
	Subject  string
	LinkText string
	D        map[string]string
}

// render produces the subject, plain-text and HTML bodies of a message.
func (o *Outbox) render(kind string, data map[string]string) (subject, text, html string, err error) {
	t, ok := o.templates[kind]
	if !ok {
		return "", "", "", fmt.Errorf("unknown message kind %q", kind)
	}
	if data == nil {
		data = map[string]string{}
	}
	exec := func(name string) (string, error) {
		var b bytes.Buffer
		if err := t.text.ExecuteTemplate(&b, name, data); err != nil {
			return "", fmt.Errorf("render %s %s: %w", kind, name, err)
		}
		return b.String(), nil
	}
	if subject, err = exec("subject"); err != nil {
		return "", "", "", err
	}
	// A subject is one header line: user-typed text (a title) must not
	// break it.
	subject = strings.Join(strings.Fields(subject), " ")
	linkText, err := exec("linktext")
	if err != nil {
		return "", "", "", err
	}
	if text, err = exec("text"); err != nil {
		return "", "", "", err
	}
	var b bytes.Buffer
	if err := t.html.ExecuteTemplate(&b, "layout", htmlData{Subject: subject, LinkText: strings.TrimSpace(linkText), D: data}); err != nil {
		return "", "", "", fmt.Errorf("render %s html: %w", kind, err)
	}
	return subject, strings.TrimLeft(text, "\n"), b.String(), nil
}
