// Package onboarding brings new partner organisations into the shared care
// record and lets the programme pause new access requests for the region.
//
// An application records a new organisation's details and the four
// prerequisites (it provides direct care; its Data Security and Protection
// Toolkit status; an active HSCN connection; individual e-mail accounts on
// allowed domains). An application that misses a prerequisite is kept, and
// flagged; it cannot be approved until the prerequisite is met. The
// information governance steering group decides (approved or rejected, with
// the meeting date and minutes); an approved organisation goes live, which
// creates it as a partner organisation with its information sharing agreement
// level and request routing.
//
//	submitted ──approve──▶ approved ──go live──▶ live
//	    │
//	    └──────reject────▶ rejected
//
// Who may: applicants do not use CareGate. They contact the programme team,
// who enter and manage applications on their behalf, so every action here —
// applications, decisions, go-live, the size-band table and the suspension —
// is for programme administrators only. The one exception is reading whether
// new requests are suspended (Suspension, SuspensionState), which everyone
// signed in may see, as the portal shows it on every page.
//
// Costs: each organisation's implementation cost and annual contribution
// follow from its size band, a table administrators edit; they are computed
// from the current table whenever they are shown.
//
// Every change and its audit event commit in one transaction.
package onboarding
