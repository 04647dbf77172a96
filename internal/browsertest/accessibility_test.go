package browsertest

import (
	"fmt"

	"github.com/chromedp/chromedp"

	"github.com/caregate/caregate/internal/browsertest/axe"
)

// axeRun asks axe-core for the WCAG 2.0 and 2.1 level A and AA failures of
// the whole document. Only violations are wanted: skipping the passes makes
// a run several times faster.
const axeRun = `axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  resultTypes: ['violations'],
}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact || '', help: v.help,
  nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html})),
})))`

// axeViolation is one rule broken on a page, with the elements breaking it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target string `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// knownAccessibilityIssues are axe rules that fail in our markup today and
// are reported to the template owners; each entry says where and why. A rule
// listed here is ignored on every page, so remove the entry as soon as the
// template is fixed. Keep this list empty whenever possible.
var knownAccessibilityIssues = map[string]string{}

// accessibilityViolations runs axe-core on the current page and describes
// each violation: rule, impact, and the elements that break it.
func (b *tab) accessibilityViolations(where string) []string {
	b.t.Helper()
	// Runtime.evaluate is not subject to the page's CSP, so axe runs
	// without the policy having to allow it.
	if !eval[bool](b, `typeof axe !== 'undefined'`) {
		run(b, "load axe-core", chromedp.Evaluate[chromedp.Void](axe.Source))
	}
	vs := run(b, "run axe-core on "+where, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	var lines []string
	for _, v := range vs {
		if why, ok := knownAccessibilityIssues[v.ID]; ok {
			b.t.Logf("%s: known accessibility issue %s on %s (%s)", b.name, v.ID, where, why)
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %s", v.ID, v.Impact, v.Help))
		for _, n := range v.Nodes {
			lines = append(lines, fmt.Sprintf("  at %s: %s", n.Target, n.HTML))
		}
	}
	return lines
}
