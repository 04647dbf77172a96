// Package record is the shared care record itself: the FHIR R4 resources the
// partners' systems publish (ingest), finding a patient, the role-filtered
// read-only view of their record, the FHIR read API's data, contextual launch
// from a clinical system, and reports of data problems.
//
// The rules live here, not in the web or API layers: who may open the record
// at all (the gate: an active record account, a live organisation, training
// complete), what each record role may see (the role filter: a Care
// Professional sees every section, an Administrator demographics and
// appointments only), and that every access is written to the audit trail
// and committed before any data is returned. The package knows nothing of
// HTTP; it takes the store, the audit log and a clock.
package record
