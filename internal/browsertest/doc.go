// Package browsertest drives the real CareGate server with headless Chromium
// through the journeys that matter most: signing in with a security code,
// administering partner organisations and accounts, setting up a new account
// with an authenticator app, managing sites as a site authoriser and signing
// out. Every page the journeys visit is also checked with axe-core for WCAG
// 2.1 A and AA failures, for JavaScript errors and for Content-Security-Policy
// violations.
//
// The tests need Chromium (Debian's chromium package, or CAREGATE_CHROMIUM
// naming another binary). Without it they skip, except under CI (CI=true),
// where they fail. With CAREGATE_TEST_POSTGRES set they run once more on
// PostgreSQL. On a failure they save a full-page screenshot into
// CAREGATE_SCREENSHOTS (default: a new temporary directory, named in the log).
//
// The package holds tests only; this file exists to document it.
package browsertest
