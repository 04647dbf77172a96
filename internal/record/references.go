package record

import (
	"context"
	"strings"

	"github.com/caregate/caregate/internal/errs"
)

// LinkPatients points the Patient references of served resources at the
// server's Patients. A supplier writes Patient/{its own id} (or, in a
// Bundle, the Patient entry's fullUrl); the FHIR API knows that Patient by
// the server id it gave it. Each reference "Patient/{id}" becomes the
// server id of the Patient the same organisation sent with that id, and a
// fullUrl reference in the resource's patient field (subject, patient,
// participant.actor) the server id of that organisation's Patient for the
// resource's NHS number — the Patient ingest resolved it to. A reference
// that names no Patient in the record is left as it is. Bodies are
// rewritten in place; Patients themselves are left alone (they refer to no
// patient), so a Patient read costs nothing here. Callers: the FHIR API,
// after the read or search was allowed and audited. Errors: Internal.
func (s *Service) LinkPatients(ctx context.Context, rs ...*Resource) error {
	ids := map[string]map[string]string{} // NHS number → "ODS|source id" and "ODS|" → server id
	for _, r := range rs {
		if r.Type == "Patient" {
			continue
		}
		known, ok := ids[r.NHSNumber]
		if !ok {
			var err error
			if known, err = s.patientIDs(ctx, r.NHSNumber); err != nil {
				return err
			}
			ids[r.NHSNumber] = known
		}
		m, err := decodeJSON(r.Body)
		if err != nil {
			return errs.Wrap(err, "decode stored resource")
		}
		if ref := patientOf(m, r.Type); ref != nil {
			if v := str(ref, "reference"); strings.HasPrefix(v, "urn:") || (strings.Contains(v, "Patient/") && !strings.HasPrefix(v, "Patient/")) {
				if id, ok := known[r.ODS+"|"]; ok {
					ref["reference"] = "Patient/" + id
				}
			}
		}
		linkReferences(m, r.ODS, known)
		r.Body = canonical(m)
	}
	return nil
}

// linkReferences rewrites every "Patient/{source id}" reference in v to
// the server id the organisation's Patient of that id has.
func linkReferences(v any, ods string, known map[string]string) {
	switch x := v.(type) {
	case obj:
		if ref, ok := x["reference"].(string); ok {
			if src, ok := strings.CutPrefix(ref, "Patient/"); ok {
				if id, ok := known[ods+"|"+src]; ok {
					x["reference"] = "Patient/" + id
				}
			}
		}
		for _, e := range x {
			linkReferences(e, ods, known)
		}
	case []any:
		for _, e := range x {
			linkReferences(e, ods, known)
		}
	}
}

// patientIDs returns the server ids of the Patients every organisation has
// sent for an NHS number, keyed "ODS|source id", and "ODS|" for each
// organisation's most recently updated one.
func (s *Service) patientIDs(ctx context.Context, nhs string) (map[string]string, error) {
	rows, err := s.db.Query(ctx, `SELECT r.id, r.source_id, o.ods_code FROM record_resources r JOIN organisations o ON o.id = r.organisation_id
		WHERE r.nhs_number = ? AND r.resource_type = 'Patient' ORDER BY r.updated_at DESC, r.id`, nhs)
	if err != nil {
		return nil, errs.Wrap(err, "read patient ids")
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, src, ods string
		if err := rows.Scan(&id, &src, &ods); err != nil {
			return nil, errs.Wrap(err, "read patient ids")
		}
		out[ods+"|"+src] = id
		if _, ok := out[ods+"|"]; !ok {
			out[ods+"|"] = id
		}
	}
	return out, rows.Err()
}
