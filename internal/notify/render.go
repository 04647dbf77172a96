package notify

import (
	"fmt"
	"sort"
	"strings"
)

// render produces the subject, plain-text and HTML bodies of a message.
// TODO(templates): replace this generic rendering with embedded templates.
func render(kind string, data map[string]string) (subject, text, html string, err error) {
	if kind == "" {
		return "", "", "", fmt.Errorf("message without a kind")
	}
	subject = data["Subject"]
	if subject == "" {
		subject = "CareGate: " + strings.ReplaceAll(kind, "_", " ")
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, data[k])
	}
	return subject, b.String(), "", nil
}
