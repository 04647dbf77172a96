#!/usr/bin/env bash
# Regenerates the vendored front-end files from package-lock.json:
#
#   internal/web/static/nhsuk/          NHS.UK design system (nhsuk-frontend)
#   internal/browsertest/axe/axe.min.js axe-core, for accessibility checks in browser tests
#
# The generated files are committed so that `go build` / `go run` need no npm.
# To upgrade, change the exact versions in package.json, run `npm install`
# (to refresh package-lock.json) and then this script. Running it again with an
# unchanged lock file produces byte-identical output.
#
# internal/web/static/caregate.css is our own hand-written file; this script
# never touches it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

pkgver() { node -p "require('./node_modules/$1/package.json').version"; }
nhsuk_version="$(pkgver nhsuk-frontend)"
axe_version="$(pkgver axe-core)"

src=node_modules/nhsuk-frontend/dist/nhsuk
dst=internal/web/static/nhsuk
axe_dst=internal/browsertest/axe

rm -rf "$dst"
mkdir -p "$dst/assets" "$axe_dst"

# CSS, without the source-map comment (the map is not shipped).
sed -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$src/nhsuk-frontend.min.css" >"$dst/nhsuk-frontend.min.css"

# The CSS must only reference images under /assets/ (served from
# static/nhsuk/assets by web.Assets), data: URIs, or the NHS font CDN
# (https://assets.nhs.uk, allowed by the CSP font-src). Fail loudly if a new
# release references anything else.
urls="$(grep -o 'url([^)]*)' "$dst/nhsuk-frontend.min.css" | sed -e 's/^url(//' -e 's/)$//' -e "s/^[\"']//" -e "s/[\"']\$//" | sort -u)"
unexpected="$(printf '%s\n' "$urls" | grep -v -e '^/assets/' -e '^data:' -e '^https://assets\.nhs\.uk/fonts/' || true)"
if [ -n "$unexpected" ]; then
	echo "update-frontend: unexpected url() references in nhsuk-frontend CSS:" >&2
	printf '  %s\n' "$unexpected" >&2
	exit 1
fi

# The design-system JS is an ES module that exports initAll but does not call
# it. Our CSP forbids inline scripts, so instead of the upstream template's
# inline <script> snippet we append the initialisation to the module itself:
# module scripts only run in browsers that support them, so it is always safe
# to mark <body> as nhsuk-frontend-supported here.
{
	sed -e 's#//\# sourceMappingURL=.*$##' "$src/nhsuk-frontend.min.js"
	printf '\n/* Added by scripts/update-frontend.sh (CSP forbids the inline snippet from the upstream template). */\n'
	printf 'document.body.classList.add("nhsuk-frontend-supported");initAll();\n'
} >"$dst/nhsuk-frontend.init.min.js"

# Assets: the images the CSS references, the favicons/touch icon that the
# upstream page template links to, and the web app manifest with its icons.
assets="$(
	{
		printf '%s\n' "$urls" | sed -n 's#^/assets/##p'
		printf '%s\n' manifest.json images/favicon.ico images/favicon.svg images/nhsuk-icon-mask.svg images/nhsuk-icon-180.png
		node -e 'for (const i of require(process.argv[1]).icons) console.log(i.src)' "./$src/assets/manifest.json"
	} | sort -u
)"
while IFS= read -r f; do
	[ -n "$f" ] || continue
	mkdir -p "$dst/assets/$(dirname "$f")"
	cp "$src/assets/$f" "$dst/assets/$f"
done <<<"$assets"

cat >"$dst/LICENSE.txt" <<LICENSE
nhsuk-frontend $nhsuk_version (https://github.com/nhsuk/nhsuk-frontend),
vendored by scripts/update-frontend.sh from the npm package.

MIT License

Copyright (c) 2019 NHS.UK

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENSE

# axe-core: the minified file carries its own MPL-2.0 notice; keep the licence
# text next to it.
cp node_modules/axe-core/axe.min.js "$axe_dst/axe.min.js"
cp node_modules/axe-core/LICENSE "$axe_dst/LICENSE"

echo "update-frontend: nhsuk-frontend $nhsuk_version -> $dst ($(find "$dst" -type f -exec cat {} + | wc -c | tr -d " ") bytes)"
echo "update-frontend: axe-core $axe_version -> $axe_dst/axe.min.js"
