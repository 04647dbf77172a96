package record

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Publisher is a partner's system authenticated by a machine credential:
// it publishes as its organisation and as nothing else.
type Publisher struct {
	ClientID       string
	OrganisationID string
	ODS            string
}

// Who is the publisher's audit identity.
func (p *Publisher) Who() audit.Who {
	return audit.Who{UserID: "client:" + p.ClientID, Email: "client:" + p.ClientID + "@" + p.ODS}
}

// Stored is the outcome of one ingested resource.
type Stored struct {
	Type     string `json:"resource_type"`
	SourceID string `json:"source_id"`
	ID       string `json:"id"`      // the server id
	Outcome  string `json:"outcome"` // created | updated | unchanged
	Version  int    `json:"version"`
}

// errTooLarge is the refusal of a payload over the limit.
func errTooLarge(limit int64) error {
	return &errs.Error{Code: errs.Invalid, Message: fmt.Sprintf("The payload is larger than the %d MB limit; send it in smaller bundles", limit>>20),
		Fields: []errs.FieldError{{Field: "$", Message: "payload too large"}}}
}

// Ingest stores a FHIR R4 payload — one resource or a transaction Bundle —
// published by pub. Everything is checked before anything is written, and a
// Bundle is stored in one transaction: if any entry is refused, nothing of
// it is stored. Re-sending a resource (same organisation, type and id)
// updates it; an identical re-send changes nothing. The organisation is
// always the publisher's own: a resource that names another organisation as
// its source is refused. Accepted and refused payloads are audited.
// Errors: Invalid (with the FHIRPath of each problem), Forbidden, Internal.
func (s *Service) Ingest(ctx context.Context, pub *Publisher, body []byte) ([]Stored, error) {
	return s.IngestAt(ctx, pub, Target{}, body)
}

// IngestAt is Ingest of a payload sent to an address: to a type (one
// resource of that type) or to a resource's address (that resource). A
// body that is not what its address names is refused and audited like any
// other refusal. Errors: as Ingest.
func (s *Service) IngestAt(ctx context.Context, pub *Publisher, to Target, body []byte) ([]Stored, error) {
	if pub == nil {
		return nil, errs.E(errs.Unauthenticated, "A machine credential is required to publish")
	}
	out, err := s.ingest(ctx, pub, to, body)
	if err != nil && errs.CodeOf(err) != errs.Internal {
		e := errs.As(err)
		d := map[string]string{"reason": e.Message, "bytes": strconv.Itoa(len(body))}
		if len(e.Fields) > 0 {
			d["where"] = e.Fields[0].Field
		}
		s.auditRefused(ctx, audit.New(pub.Who(), "record.ingest", "organisation", pub.OrganisationID, audit.Refused, d))
	}
	return out, err
}

// RefuseTooLarge refuses (and audits) a payload the HTTP layer stopped
// reading at the limit. It always returns the refusal.
func (s *Service) RefuseTooLarge(ctx context.Context, pub *Publisher) error {
	err := errTooLarge(s.cfg.MaxPayload)
	s.auditRefused(ctx, audit.New(pub.Who(), "record.ingest", "organisation", pub.OrganisationID, audit.Refused,
		map[string]string{"reason": errs.As(err).Message}))
	return err
}

func (s *Service) ingest(ctx context.Context, pub *Publisher, to Target, body []byte) ([]Stored, error) {
	if int64(len(body)) > s.cfg.MaxPayload {
		return nil, errTooLarge(s.cfg.MaxPayload)
	}
	rs, err := parsePayload(body, to)
	if err != nil {
		return nil, err
	}
	var v errs.Validation
	for _, r := range rs {
		if r.Source != "" && !sourceIs(r.Source, pub.ODS) {
			v.Add(r.Where+".meta.source", "%s/%s names %q as its source; this credential publishes for %s only", r.Type, r.ID, r.Source, pub.ODS)
		}
	}
	if err := v.Err(); err != nil {
		e := errs.As(err)
		return nil, &errs.Error{Code: errs.Forbidden, Message: e.Message, Fields: e.Fields}
	}
	// Patients first, so that the other entries' references resolve.
	patients := map[string]string{} // "Patient/id" and fullUrl → NHS number
	for _, r := range rs {
		if r.Type == "Patient" {
			patients["Patient/"+r.ID] = r.NHS
			if r.FullURL != "" {
				patients[r.FullURL] = r.NHS
			}
		}
	}
	now := s.clock.Now().UnixMicro()
	out := make([]Stored, 0, len(rs))
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range rs {
			if r.NHS == "" {
				nhs, err := s.resolvePatient(ctx, tx, pub, patients, r.PatientRef)
				if err != nil {
					return err
				}
				if nhs == "" {
					v.Add(r.Where, "%s/%s refers to %q, which is neither in this Bundle nor a Patient %s has published", r.Type, r.ID, r.PatientRef, pub.ODS)
					continue
				}
				r.NHS = nhs
			}
			if r.Type != "Patient" && !ValidNHSNumber(r.NHS) {
				v.Add(r.Where, "%s/%s names the patient by an NHS number that is not valid (%q)", r.Type, r.ID, r.NHS)
				continue
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		var err error
		if out, err = s.upsert(ctx, tx, pub, rs, now); err != nil {
			return err
		}
		counts := map[string]int{}
		for _, st := range out {
			counts[st.Outcome]++
		}
		return s.audit.Record(ctx, tx, audit.New(pub.Who(), "record.ingest", "organisation", pub.OrganisationID, audit.Success,
			map[string]string{"resources": strconv.Itoa(len(out)), "created": strconv.Itoa(counts["created"]),
				"updated": strconv.Itoa(counts["updated"]), "unchanged": strconv.Itoa(counts["unchanged"]), "bytes": strconv.Itoa(len(body))}))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sourceIs reports whether a meta.source names the organisation: its ODS
// code alone, or at the end of a URI or identifier ("…|RX9", "…/RX9").
func sourceIs(source, ods string) bool {
	source = strings.TrimSpace(source)
	if strings.EqualFold(source, ods) {
		return true
	}
	for _, sep := range []string{"|", "/", ":", "#"} {
		if i := strings.LastIndex(source, sep); i >= 0 && strings.EqualFold(source[i+1:], ods) {
			return true
		}
	}
	return false
}

// resolvePatient finds the NHS number a reference points to: a Patient in
// the same payload, or one the same organisation published before.
func (s *Service) resolvePatient(ctx context.Context, tx *store.Tx, pub *Publisher, inBundle map[string]string, ref string) (string, error) {
	if nhs, ok := inBundle[ref]; ok {
		return nhs, nil
	}
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		return "", nil
	}
	var nhs string
	err := tx.QueryRow(ctx, `SELECT nhs_number FROM record_resources WHERE organisation_id = ? AND resource_type = 'Patient' AND source_id = ?`,
		pub.OrganisationID, id).Scan(&nhs)
	if store.IsNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", errs.Wrap(err, "resolve patient reference")
	}
	return nhs, nil
}

// upsertChunk bounds the rows one statement reads or inserts (18
// parameters each, well inside both engines' limits).
const upsertChunk = 50

// upsert writes the resources, keyed by (organisation, type, source id):
// new ones are inserted, changed ones updated (version + 1), identical ones
// left alone. The stored rows are read and the new ones inserted a chunk
// at a time, so a large Bundle is a few statements, not two per resource.
func (s *Service) upsert(ctx context.Context, tx *store.Tx, pub *Publisher, rs []*resource, now int64) ([]Stored, error) {
	type key struct{ typ, id string }
	type old struct {
		id, body string
		version  int
	}
	stored := map[key]old{}
	// By type, so that each look-up is a range of the unique index
	// (organisation, type, source id) rather than a scan of everything the
	// organisation has sent.
	byType := map[string][]any{}
	for _, r := range rs {
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	for typ, ids := range byType {
		for start := 0; start < len(ids); start += upsertChunk {
			part := ids[start:min(len(ids), start+upsertChunk)]
			rows, err := tx.Query(ctx, `SELECT source_id, id, body, version FROM record_resources WHERE organisation_id = ? AND resource_type = ?
				AND source_id IN (?`+strings.Repeat(",?", len(part)-1)+`)`, append([]any{pub.OrganisationID, typ}, part...)...)
			if err != nil {
				return nil, errs.Wrap(err, "read stored resources")
			}
			for rows.Next() {
				k := key{typ: typ}
				var o old
				if err := rows.Scan(&k.id, &o.id, &o.body, &o.version); err != nil {
					rows.Close()
					return nil, errs.Wrap(err, "read stored resources")
				}
				stored[k] = o
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, errs.Wrap(err, "read stored resources")
			}
		}
	}
	out := make([]Stored, len(rs))
	var inserts []any
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		q := `INSERT INTO record_resources (id, organisation_id, resource_type, source_id, nhs_number, family, given, birth_date,
			gender, postcode, item_date, display, status, body, version, supplied_by, received_at, updated_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?),", n), ",")
		if _, err := tx.Exec(ctx, q, inserts...); err != nil {
			return errs.Wrap(err, "store resources")
		}
		inserts, n = inserts[:0], 0
		return nil
	}
	for i, r := range rs {
		st := Stored{Type: r.Type, SourceID: r.ID}
		o, exists := stored[key{r.Type, r.ID}]
		switch {
		case !exists:
			st.ID, st.Version, st.Outcome = ident.New(), 1, "created"
			inserts = append(inserts, st.ID, pub.OrganisationID, r.Type, r.ID, r.NHS, r.Family, r.Given, r.BirthDate, r.Gender, r.Postcode,
				r.Date, r.Display, r.Status, string(r.Body), pub.ClientID, now, now)
			if n++; n == upsertChunk {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		case o.body == string(r.Body):
			st.ID, st.Version, st.Outcome = o.id, o.version, "unchanged"
		default:
			st.ID, st.Version, st.Outcome = o.id, o.version+1, "updated"
			if _, err := tx.Exec(ctx, `UPDATE record_resources SET nhs_number = ?, family = ?, given = ?, birth_date = ?, gender = ?, postcode = ?,
				item_date = ?, display = ?, status = ?, body = ?, version = ?, supplied_by = ?, updated_at = ? WHERE id = ?`,
				r.NHS, r.Family, r.Given, r.BirthDate, r.Gender, r.Postcode, r.Date, r.Display, r.Status, string(r.Body), st.Version,
				pub.ClientID, now, st.ID); err != nil {
				return nil, errs.Wrap(err, "store resource")
			}
		}
		out[i] = st
	}
	return out, flush()
}
