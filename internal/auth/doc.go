// Package auth owns accounts and signing in: argon2id password hashes and the
// strong-password rule, TOTP multi-factor authentication with recovery codes,
// throttling and lock-out, server-side sessions with idle and absolute
// limits, one-time set-up links and API tokens. Every sign-in, MFA event and
// account change is audited in the same transaction as the change.
package auth
