package record

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
)

// subsettedSystem and subsettedCode are the meta.tag that marks a served
// Patient as deliberately incomplete (FHIR's SUBSETTED): a search discloses
// only some fields; the whole Patient is a read of its id, which is audited
// as a record view.
const (
	subsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	subsettedCode   = "SUBSETTED"
)

// patientMatch is one person a patient search found: the most recently
// updated Patient resource any organisation published for the NHS number,
// and what of it a search result discloses.
type patientMatch struct {
	Match
	name obj      // the Patient's first name entry, as supplied
	res  Resource // the stored Patient: server id, version, supplier (Body empty)
}

// findPatients runs a checked Query: one match per NHS number (the newest
// Patient of every organisation's for that person), ordered by NHS number,
// at most MaxMatches. total is how many people matched in all (more than
// len(ms) only when the search should be narrowed). The portal's search
// and the FHIR Patient search both find people here, so that they disclose
// the same and stop at the same number.
func (s *Service) findPatients(ctx context.Context, q Query) (ms []patientMatch, total int, err error) {
	where, args := q.where()
	// ROW_NUMBER keeps the newest Patient of each NHS number in the
	// database, so that the limit counts people, not resources (a person
	// four organisations know would otherwise take four places).
	rows, err := s.db.Query(ctx, `SELECT m.id, m.nhs_number, m.body, m.birth_date, m.gender, m.postcode, m.version, m.updated_at, m.organisation_id
		FROM (SELECT id, organisation_id, nhs_number, body, birth_date, gender, postcode, version, updated_at,
			ROW_NUMBER() OVER (PARTITION BY nhs_number ORDER BY updated_at DESC, id) AS newest
			FROM record_resources WHERE resource_type = 'Patient' AND `+where+`) m
		WHERE m.newest = 1 ORDER BY m.nhs_number LIMIT ?`, append(args, MaxMatches+1)...)
	if err != nil {
		return nil, 0, errs.Wrap(err, "search patients")
	}
	defer rows.Close()
	for rows.Next() {
		var m patientMatch
		var body, postcode, org string
		var updated int64
		if err := rows.Scan(&m.res.ID, &m.NHSNumber, &body, &m.BirthDate, &m.Gender, &postcode, &m.res.Version, &updated, &org); err != nil {
			return nil, 0, errs.Wrap(err, "search patients")
		}
		if m.res.ODS, err = s.ods(ctx, org); err != nil {
			return nil, 0, err
		}
		if pm, err := decodeJSON([]byte(body)); err == nil {
			m.Name = patientName(pm)
			m.name = first(pm, "name")
		}
		m.PostcodeDistrict = postcodeDistrict(postcode)
		m.res.Type, m.res.NHSNumber, m.res.UpdatedAt = "Patient", m.NHSNumber, time.UnixMicro(updated).UTC()
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, errs.Wrap(err, "search patients")
	}
	if len(ms) <= MaxMatches {
		return ms, len(ms), nil
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT nhs_number) FROM record_resources WHERE resource_type = 'Patient' AND `+where,
		args...).Scan(&total); err != nil {
		return nil, 0, errs.Wrap(err, "count patients")
	}
	return ms[:MaxMatches], total, nil
}

// minimalPatient is the Patient a FHIR search returns: the NHS number, the
// name, birth date, gender and postcode district — what the portal's
// search shows — tagged SUBSETTED. No address, telecom, GP or anything
// else the supplier sent.
func (m *patientMatch) minimalPatient() ([]byte, error) {
	p := obj{"resourceType": "Patient",
		"meta":       obj{"tag": []any{obj{"system": subsettedSystem, "code": subsettedCode}}},
		"identifier": []any{obj{"system": NHSNumberSystem, "value": m.NHSNumber}}}
	if m.name != nil {
		n := obj{}
		for _, k := range []string{"family", "given"} {
			if v, ok := m.name[k]; ok {
				n[k] = v
			}
		}
		p["name"] = []any{n}
	}
	if m.BirthDate != "" {
		p["birthDate"] = m.BirthDate
	}
	if m.Gender != "" {
		p["gender"] = m.Gender
	}
	if m.PostcodeDistrict != "" {
		p["address"] = []any{obj{"postalCode": m.PostcodeDistrict}}
	}
	return json.Marshal(p)
}

// describeFound adds what a patient search disclosed to its audit detail:
// how many people it showed and their NHS numbers, and how many matched in
// all when that was more.
func describeFound(d map[string]string, ms []patientMatch, total int) {
	nhs := make([]string, len(ms))
	for i, m := range ms {
		nhs[i] = m.NHSNumber
	}
	d["results"] = strconv.Itoa(len(ms))
	d["found"] = strings.Join(nhs, " ")
	if total > len(ms) {
		d["matched"] = strconv.Itoa(total)
	}
}

// searchPatients is the FHIR Patient search: the same people, at most as
// many, as the portal's search, each served as a minimal Patient (see
// minimalPatient) rather than the supplier's whole resource, which is a
// read of the Patient's id (audited as a record view of that person).
func (s *Service) searchPatients(ctx context.Context, p *authz.Principal, v *Viewer, q Query, detail map[string]string) (*Searchset, error) {
	if err := checkQuery(&q); err != nil {
		return nil, s.refuse(ctx, p, v, "fhir.search", "", err, detail)
	}
	for k, val := range q.describe() {
		detail[k] = val
	}
	found, total, err := s.findPatients(ctx, q)
	if err != nil {
		return nil, err
	}
	set := &Searchset{Resources: make([]Resource, len(found)), Total: total}
	for i := range found {
		r := found[i].res
		if r.Body, err = found[i].minimalPatient(); err != nil {
			return nil, errs.Wrap(err, "encode patient")
		}
		set.Resources[i] = r
	}
	describeFound(detail, found, total)
	if err := s.release(ctx, p, v, "fhir.search", "", detail); err != nil {
		return nil, err
	}
	return set, nil
}
