// Package axe embeds axe-core (https://github.com/dequelabs/axe-core), the
// accessibility testing engine, for use by browser tests.
//
// axe.min.js is vendored from the axe-core npm package pinned in package.json
// and package-lock.json; regenerate it with scripts/update-frontend.sh rather
// than editing it. axe-core is licensed under the MPL-2.0 (see LICENSE in this
// directory).
//
// A browser test typically evaluates [Source] in the page and then runs
// `axe.run()`, failing on any reported violations.
package axe

import _ "embed" // for //go:embed

// Source is the JavaScript source of axe.min.js. Evaluating it in a page
// defines the global `axe` object.
//
//go:embed axe.min.js
var Source string
