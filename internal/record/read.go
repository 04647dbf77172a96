package record

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
	"github.com/tidwall/gjson"
)

// MaxMatches bounds a patient search: a search that finds more should be
// narrowed, not paged through.
const MaxMatches = 20

// maxItems bounds one section of one patient.
const maxItems = 500

// checkQuery validates a search and normalises it.
func checkQuery(q *Query) error {
	var v errs.Validation
	q.NHSNumber = NormaliseNHSNumber(q.NHSNumber)
	q.Family = strings.ToLower(strings.TrimSpace(q.Family))
	q.Given = strings.ToLower(strings.TrimSpace(q.Given))
	q.BirthDate = strings.TrimSpace(q.BirthDate)
	q.Gender = strings.ToLower(strings.TrimSpace(q.Gender))
	q.Postcode = NormalisePostcode(q.Postcode)
	if q.NHSNumber != "" {
		if !ValidNHSNumber(q.NHSNumber) {
			v.Add("nhs_number", "Enter a valid NHS number: 10 digits, like 943 476 5919")
		}
		return v.Err()
	}
	if q.Family == "" {
		v.Add("family", "Enter an NHS number, or a last name with a date of birth")
	}
	if q.BirthDate == "" {
		v.Add("birth_date", "Enter the date of birth")
	} else if _, err := time.Parse("2006-01-02", q.BirthDate); err != nil {
		v.Add("birth_date", "Enter the date of birth as a real date")
	}
	switch q.Gender {
	case "", "male", "female", "other", "unknown":
	default:
		v.Add("gender", "Sex must be male, female, other or unknown")
	}
	if len(q.Family) > 100 || len(q.Given) > 100 || len(q.Postcode) > 10 {
		v.Add("family", "The search is too long")
	}
	return v.Err()
}

// describe says what a search was for, for the audit trail.
func (q Query) describe() map[string]string {
	d := map[string]string{}
	for k, val := range map[string]string{"nhs_number": q.NHSNumber, "family": q.Family, "given": q.Given, "birth_date": q.BirthDate,
		"gender": q.Gender, "postcode": q.Postcode} {
		if val != "" {
			d["query_"+k] = val
		}
	}
	return d
}

// Search finds patients: at most MaxMatches, and how many match in all
// (more than it returns when the search should be narrowed). The search,
// its criteria and the NHS numbers it returned are audited before the
// results are returned; a refused search is audited too. Callers: anyone who passes the gate (either role).
// Errors: Unauthenticated, Forbidden, Invalid, Internal.
func (s *Service) Search(ctx context.Context, p *authz.Principal, via string, q Query) ([]Match, int, error) {
	v, err := s.gate(ctx, p, via)
	if err != nil {
		return nil, 0, s.refuse(ctx, p, v, "record.search", "", err, q.describe())
	}
	if err := checkQuery(&q); err != nil {
		return nil, 0, s.refuse(ctx, p, v, "record.search", "", err, q.describe())
	}
	found, total, err := s.findPatients(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Match, len(found))
	for i, m := range found {
		out[i] = m.Match
	}
	d := q.describe()
	describeFound(d, found, total)
	if err := s.release(ctx, p, v, "record.search", "", d); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// where is the search condition; every value is a parameter.
func (q Query) where() (string, []any) {
	if q.NHSNumber != "" {
		return "nhs_number = ?", []any{q.NHSNumber}
	}
	// family <> '' is what the name index is partial on (migration 0008).
	conds := []string{"family = ?", "family <> ''", "birth_date = ?"}
	args := []any{q.Family, q.BirthDate}
	if q.Given != "" {
		conds = append(conds, "given LIKE ? ESCAPE '\\'")
		args = append(args, strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q.Given)+"%")
	}
	if q.Gender != "" {
		conds = append(conds, "gender = ?")
		args = append(args, q.Gender)
	}
	if q.Postcode != "" {
		conds = append(conds, "postcode = ?")
		args = append(args, q.Postcode)
	}
	return strings.Join(conds, " AND "), args
}

// postcodeDistrict is the outward code of a normalised postcode ("LE15AB"
// → "LE1"): enough to tell two people apart without their address.
func postcodeDistrict(pc string) string {
	if len(pc) > 3 {
		return pc[:len(pc)-3]
	}
	return pc
}

// Record returns one section of a patient's record for the viewer: the
// banner, the sections the viewer's role sees, and the section's items
// (for the summary: counts and the allergies, problems and medications).
// section "" is the role's first section. A section the role does not see
// is refused (and audited as refused) even if asked for directly. The view
// is audited before it is returned. Errors: Unauthenticated, Forbidden,
// Invalid, NotFound, Internal.
func (s *Service) Record(ctx context.Context, p *authz.Principal, via, nhs string, section Section) (*View, error) {
	nhs = NormaliseNHSNumber(nhs)
	action := "record.section"
	if section == "" {
		action = "record.view"
	}
	v, err := s.gate(ctx, p, via)
	if err == nil && section == "" {
		section = VisibleSections(v.Role)[0]
	}
	detail := map[string]string{"section": string(section)}
	if err != nil {
		return nil, s.refuse(ctx, p, v, action, nhs, err, detail)
	}
	if SectionTitle(section) == "" || section == Demographics {
		return nil, errs.E(errs.NotFound, "There is no such section of the record")
	}
	if !RoleSees(v.Role, section) {
		return nil, s.refuse(ctx, p, v, action, nhs, errs.E(errs.Forbidden, "Your record role (%s) does not allow you to see %s.",
			strings.ReplaceAll(v.Role, "_", " "), strings.ToLower(SectionTitle(section))), detail)
	}
	if !ValidNHSNumber(nhs) {
		return nil, s.refuse(ctx, p, v, action, "", errs.E(errs.Invalid, "That is not a valid NHS number"), detail)
	}
	view := &View{Section: section, Sections: VisibleSections(v.Role)}
	if err := s.read(ctx, nhs, view); err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			detail["found"] = "no"
			if aerr := s.release(ctx, p, v, action, nhs, detail); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if section == Summary {
		detail["items"] = strconv.Itoa(len(view.Allergies) + len(view.Problems) + len(view.Medications))
	} else {
		detail["items"] = strconv.Itoa(len(view.Items))
	}
	if err := s.release(ctx, p, v, action, nhs, detail); err != nil {
		return nil, err
	}
	return view, nil
}

// summaryItems is how many of each of the summary's kinds it lists.
const summaryItems = 20

// read fills view for its section from one query over the patient's rows:
// the banner (the most recently updated Patient resource for the NHS number,
// whichever organisation sent it) and, for a section, its items newest
// first (at most maxItems); for the summary, how many items each section
// holds (counted in the index, so that a record of thousands of results
// costs little more than a short one) and the newest allergies, problems
// and medications (summaryItems of each, so that a long list of one kind,
// such as repeat prescriptions, does not crowd the others out). One query
// rather than one per part: a record view is the commonest read. Errors:
// NotFound (no such patient).
func (s *Service) read(ctx context.Context, nhs string, view *View) error {
	q := `SELECT r.id, r.resource_type, r.item_date, r.display, r.status, r.organisation_id, r.updated_at,
		CASE WHEN r.resource_type = 'Patient' THEN r.body ELSE '' END AS body, 0 AS n
		FROM record_resources r WHERE r.nhs_number = ?`
	args := []any{nhs}
	var lists map[Section]*[]Item
	var limit int
	var types []string
	if view.Section == Summary {
		view.Counts = map[Section]int{}
		view.Allergies, view.Problems, view.Medications = []Item{}, []Item{}, []Item{}
		lists = map[Section]*[]Item{Allergies: &view.Allergies, Problems: &view.Problems, Medications: &view.Medications}
		limit = summaryItems
		types = slices.Concat(typesOf(Allergies), typesOf(Problems), typesOf(Medications))
	} else {
		types = typesOf(view.Section)
		view.Items = []Item{}
		lists = map[Section]*[]Item{view.Section: &view.Items}
		limit = maxItems
	}
	in, inArgs := store.In(s.db.Dialect, "r.resource_type", append([]string{"Patient"}, types...))
	q += ` AND ` + in
	args = append(args, inArgs...)
	if view.Section == Summary {
		// The summary counts every section but lists only three: the other
		// sections' rows (results and encounters are most of a long record)
		// are counted in the index, in rows of their own (id '', the count
		// in n), never read. Its lists are put in order below, so the query
		// needs no sort.
		q += ` UNION ALL SELECT '', resource_type, '', '', '', '', 0, '', COUNT(*)
			FROM record_resources WHERE nhs_number = ? GROUP BY resource_type`
		args = append(args, nhs)
	} else {
		// The Patient rows first: a section's view can then stop reading
		// once its list is full (a long record has thousands of rows).
		q += ` ORDER BY r.resource_type = 'Patient' DESC, r.item_date DESC, r.id`
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return errs.Wrap(err, "read record")
	}
	defer rows.Close()
	var patient struct {
		id, body, name, org string
		updated             int64
	}
	for rows.Next() {
		var it Item
		var updated int64
		var body, org string
		var n int
		if err := rows.Scan(&it.ID, &it.Type, &it.Date, &it.Display, &it.Status, &org, &updated, &body, &n); err != nil {
			return errs.Wrap(err, "read record")
		}
		sec := SectionOf(it.Type)
		if it.ID == "" { // a count
			if sec != Demographics {
				view.Counts[sec] += n
			}
			continue
		}
		from, err := s.orgs.get(ctx, org)
		if err != nil {
			return err
		}
		it.Organisation, it.ODS = from.Name, from.ODS
		if sec == Demographics {
			if patient.body == "" || updated > patient.updated || updated == patient.updated && it.ID < patient.id {
				patient.id, patient.body, patient.name, patient.org, patient.updated = it.ID, body, it.Display, it.Organisation, updated
			}
			continue
		}
		if into := lists[sec]; into != nil && (len(*into) < limit || view.Counts != nil) {
			it.UpdatedAt = time.UnixMicro(updated).UTC()
			*into = append(*into, it)
		} else if view.Counts == nil {
			break // the section's list is full
		}
	}
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, "read record")
	}
	if view.Counts != nil {
		for _, l := range lists {
			slices.SortFunc(*l, func(a, b Item) int {
				if c := strings.Compare(b.Date, a.Date); c != 0 {
					return c // newest first
				}
				return strings.Compare(a.ID, b.ID)
			})
			*l = (*l)[:min(len(*l), limit)]
		}
	}
	if patient.body == "" {
		return errs.E(errs.NotFound, "The record holds no patient with this NHS number")
	}
	view.Patient, err = banner(nhs, patient.name, patient.body, patient.org, patient.updated)
	return err
}

// banner is the patient's demographics from their Patient resource, named
// name (its display, made at ingest by patientName). The body was checked
// at ingest, so the few fields the banner shows are read where they lie
// rather than by decoding the whole resource (which was a tenth of a
// summary's CPU).
func banner(nhs, name, body, orgName string, updated int64) (*Patient, error) {
	m := gjson.Parse(body)
	if !m.IsObject() {
		return nil, errs.E(errs.Internal, "the stored Patient resource for %s is not a JSON object", nhs)
	}
	text := func(r gjson.Result, path string) string {
		if v := r.Get(path); v.Type == gjson.String {
			return v.Str
		}
		return ""
	}
	texts := func(r gjson.Result, path string) []string {
		var out []string
		for _, v := range r.Get(path).Array() {
			if v.Type == gjson.String {
				out = append(out, v.Str)
			}
		}
		return out
	}
	pt := &Patient{NHSNumber: nhs, Name: name,
		BirthDate: text(m, "birthDate"), Gender: text(m, "gender"), Source: orgName, UpdatedAt: time.UnixMicro(updated).UTC()}
	if a := m.Get("address.0"); a.IsObject() {
		parts := append(texts(a, "line"), text(a, "city"), text(a, "postalCode"))
		pt.Address = strings.Join(nonEmpty(parts), ", ")
		if pt.Address == "" {
			pt.Address = text(a, "text")
		}
	}
	if gp := m.Get("generalPractitioner.0"); gp.IsObject() {
		pt.GPPractice = firstNonEmpty(text(gp, "display"), text(gp, "identifier.value"))
	}
	return pt, nil
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// Resource is a stored FHIR resource for the FHIR API.
type Resource struct {
	ID        string
	Type      string
	Body      []byte // as supplied, in canonical form (see canonical)
	Version   int
	UpdatedAt time.Time
	ODS       string // the supplier
	NHSNumber string
}

// apiAccess is the FHIR API's gate and role filter for one resource type;
// refusals are audited as the action.
func (s *Service) apiAccess(ctx context.Context, p *authz.Principal, action, resourceType string, detail map[string]string) (*Viewer, error) {
	v, err := s.gate(ctx, p, ViaAPI)
	if err != nil {
		return nil, s.refuse(ctx, p, v, action, "", err, detail)
	}
	if !SupportedType(resourceType) {
		return nil, errs.E(errs.NotFound, "The record holds no resources of type %s", resourceType)
	}
	if !RoleSees(v.Role, SectionOf(resourceType)) {
		return nil, s.refuse(ctx, p, v, action, "", errs.E(errs.Forbidden, "Your record role (%s) does not allow reading %s resources",
			v.Role, resourceType), detail)
	}
	return v, nil
}

// Read returns one resource for the FHIR API, if the viewer's role sees its
// type; the read is audited before it is returned, and a refused one too.
// Errors: Unauthenticated, Forbidden, NotFound, Internal.
func (s *Service) Read(ctx context.Context, p *authz.Principal, resourceType, id string) (*Resource, error) {
	detail := map[string]string{"resource": resourceType + "/" + id}
	v, err := s.apiAccess(ctx, p, "fhir.read", resourceType, detail)
	if err != nil {
		return nil, err
	}
	r := &Resource{}
	var body string
	var updated int64
	var org string
	err = s.db.QueryRow(ctx, `SELECT id, resource_type, body, version, updated_at, organisation_id, nhs_number
		FROM record_resources WHERE id = ? AND resource_type = ?`, id, resourceType).
		Scan(&r.ID, &r.Type, &body, &r.Version, &updated, &org, &r.NHSNumber)
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "%s/%s is not in the record", resourceType, id)
	}
	if err != nil {
		return nil, errs.Wrap(err, "read resource")
	}
	if r.ODS, err = s.ods(ctx, org); err != nil {
		return nil, err
	}
	r.Body, r.UpdatedAt = []byte(body), time.UnixMicro(updated).UTC()
	if err := s.release(ctx, p, v, "fhir.read", r.NHSNumber, detail); err != nil {
		return nil, err
	}
	return r, nil
}

// SearchParams are the FHIR search parameters the record supports.
type SearchParams struct {
	Patient string // for clinical types: the server id of a Patient
	Query   Query  // for Patient
	// For Patient: the FHIR identifier token as given, "{system}|{NHS
	// number}" or the number alone; it sets Query.NHSNumber.
	Identifier string

	// For clinical types: how many resources a page holds (0: DefaultPage;
	// outside 1 to MaxPage, refused), and where it starts (Searchset.Next
	// of the page before; "" for the first page).
	Count  int
	Cursor string
}

// Pages of a search of clinical resources.
const (
	DefaultPage = 50
	MaxPage     = maxItems
)

// Searchset is what a FHIR search found.
type Searchset struct {
	Resources []Resource
	// Total is how many matched. A Patient search returns at most 20
	// people, so it can be more than len(Resources): the client should
	// narrow the search. A search of clinical resources returns them a
	// page at a time.
	Total int
	// Next is the cursor of the next page, "" on the last.
	Next string
}

// SearchResources runs a FHIR search of one type: Patient by its
// demographics (at most 20 people, each a minimal Patient: see
// searchPatients), other types by patient (every organisation's resources
// of that type for the same NHS number, newest first, a page at a time).
// Audited before it returns; a refused search too. Errors: Unauthenticated,
// Forbidden, Invalid, Internal.
func (s *Service) SearchResources(ctx context.Context, p *authz.Principal, resourceType string, sp SearchParams) (*Searchset, error) {
	detail := map[string]string{"resource_type": resourceType}
	v, err := s.apiAccess(ctx, p, "fhir.search", resourceType, detail)
	if err != nil {
		return nil, err
	}
	if resourceType == "Patient" {
		// A Patient search is not paged (see searchPatients): a cursor would
		// silently give the first page again, a page size would be ignored.
		for _, f := range []struct {
			name string
			set  bool
		}{{"_cursor", sp.Cursor != ""}, {"_count", sp.Count != 0}} {
			if f.set {
				return nil, s.refuse(ctx, p, v, "fhir.search", "", fieldError(f.name, "A Patient search returns at most %d people and is not paged: "+
					"narrow it (given name, gender, postcode) or search by NHS number", MaxMatches), detail)
			}
		}
		if sp.Identifier != "" {
			if sp.Query.NHSNumber, err = identifierNHSNumber(sp.Identifier); err != nil {
				return nil, s.refuse(ctx, p, v, "fhir.search", "", err, detail)
			}
		}
		return s.searchPatients(ctx, p, v, sp.Query, detail)
	}
	id := strings.TrimPrefix(sp.Patient, "Patient/")
	if id == "" {
		return nil, s.refuse(ctx, p, v, "fhir.search", "", errs.E(errs.Invalid, "Search %s by patient (patient=Patient/{id})", resourceType), detail)
	}
	count := sp.Count
	if count == 0 {
		count = DefaultPage
	}
	if count < 1 || count > MaxPage {
		return nil, s.refuse(ctx, p, v, "fhir.search", "", fieldError("_count", "Give a page size (_count) from 1 to %d", MaxPage), detail)
	}
	var after *cursor
	if sp.Cursor != "" {
		c, ok := decodeCursor(sp.Cursor)
		if !ok {
			return nil, s.refuse(ctx, p, v, "fhir.search", "", fieldError("_cursor",
				"The page cursor is not one this server gave: follow the Bundle's next link, or start the search again"), detail)
		}
		after = &c
		detail["page"] = "next"
	}
	// The patient's NHS number and how many resources of the type they
	// have, in one round trip: every page of a search asks for both.
	var nhs string
	set := &Searchset{}
	err = s.db.QueryRow(ctx, `SELECT p.nhs_number,
		(SELECT COUNT(*) FROM record_resources c WHERE c.nhs_number = p.nhs_number AND c.resource_type = ?)
		FROM record_resources p WHERE p.id = ? AND p.resource_type = 'Patient'`, resourceType, id).Scan(&nhs, &set.Total)
	if store.IsNoRows(err) {
		return nil, s.refuse(ctx, p, v, "fhir.search", "", errs.E(errs.Invalid, "Patient/%s is not in the record", id), detail)
	}
	if err != nil {
		return nil, errs.Wrap(err, "resolve patient")
	}
	q := `SELECT r.id, r.resource_type, r.body, r.version, r.updated_at, r.organisation_id, r.nhs_number, r.item_date
		FROM record_resources r WHERE r.nhs_number = ? AND r.resource_type = ?`
	args := []any{nhs, resourceType}
	if after != nil {
		q += ` AND (r.item_date < ? OR (r.item_date = ? AND r.id > ?))`
		args = append(args, after.date, after.date, after.id)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY r.item_date DESC, r.id LIMIT ?`, append(args, count+1)...)
	if err != nil {
		return nil, errs.Wrap(err, "search resources")
	}
	defer rows.Close()
	out := []Resource{}
	var last cursor
	for rows.Next() {
		var r Resource
		var body, date, org string
		var updated int64
		if err := rows.Scan(&r.ID, &r.Type, &body, &r.Version, &updated, &org, &r.NHSNumber, &date); err != nil {
			return nil, errs.Wrap(err, "search resources")
		}
		if len(out) == count {
			set.Next = last.encode()
			break
		}
		if r.ODS, err = s.ods(ctx, org); err != nil {
			return nil, err
		}
		r.Body, r.UpdatedAt = []byte(body), time.UnixMicro(updated).UTC()
		out = append(out, r)
		last = cursor{date: date, id: r.ID}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "search resources")
	}
	rows.Close()
	refs := make([]*Resource, len(out))
	for i := range out {
		refs[i] = &out[i]
	}
	if err := s.LinkPatients(ctx, refs...); err != nil {
		return nil, err
	}
	detail["results"] = strconv.Itoa(len(out))
	detail["total"] = strconv.Itoa(set.Total)
	if err := s.release(ctx, p, v, "fhir.search", nhs, detail); err != nil {
		return nil, err
	}
	set.Resources = out
	return set, nil
}

// identifierNHSNumber reads a Patient search's identifier token: an NHS
// number, with or without its system.
func identifierNHSNumber(token string) (string, error) {
	sys, val, ok := strings.Cut(token, "|")
	if !ok {
		val, sys = sys, NHSNumberSystem
	}
	if sys != NHSNumberSystem {
		return "", fieldError("identifier", "Search Patient by identifier=%s|{NHS number}", NHSNumberSystem)
	}
	if strings.TrimSpace(val) == "" {
		return "", fieldError("identifier", "The identifier search needs an NHS number after the |")
	}
	return val, nil
}

// fieldError is an Invalid error about one search parameter.
func fieldError(field, format string, args ...any) error {
	var v errs.Validation
	v.Add(field, format, args...)
	return v.Err()
}

// cursor is where a page of a search of clinical resources ends: the
// resources are ordered by clinical date (newest first), then id.
type cursor struct{ date, id string }

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.date + "\x00" + c.id))
}

// decodeCursor reads a cursor that encode made; anything else is refused.
func decodeCursor(s string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !utf8.Valid(b) {
		return cursor{}, false
	}
	date, id, ok := strings.Cut(string(b), "\x00")
	if !ok || id == "" || strings.ContainsRune(id, 0) {
		return cursor{}, false
	}
	return cursor{date: date, id: id}, true
}

// Served returns a stored resource as the FHIR API serves it: the supplier's
// JSON with the server id and a meta of version, last update and source
// (the supplier's ODS code); the supplier's other meta (profiles, tags) is
// kept. The stored JSON is copied once, field by field, with the id and
// the three meta fields put in on the way (where the supplier had them,
// else at the end), rather than decoded and re-encoded or edited a field
// at a time: a read is served far more often than it is stored, and
// decoding was a tenth of a read's CPU, four edits a tenth of the rest.
func (r *Resource) Served() ([]byte, error) {
	// Stored bodies were checked and made canonical at ingest: no second
	// full parse here, only that it is an object.
	root := gjson.ParseBytes(r.Body)
	if !root.IsObject() {
		return nil, errs.E(errs.Internal, "stored %s/%s is not a JSON object", r.Type, r.ID)
	}
	meta := servedMeta{
		{"versionId", strconv.Itoa(r.Version)},
		{"lastUpdated", r.UpdatedAt.Format(time.RFC3339)},
		{"source", "https://fhir.nhs.uk/Id/ods-organization-code|" + r.ODS},
	}
	out := make([]byte, 0, len(r.Body)+160)
	out = append(out, '{')
	var idDone, metaDone bool
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.String() {
		case "id":
			out = appendJSONString(appendKey(out, 1, k.Raw), r.ID)
			idDone = true
		case "meta":
			// One that is not an object is replaced by the server's, at the end.
			if v.IsObject() {
				out = meta.appendTo(appendKey(out, 1, k.Raw), v)
				metaDone = true
			}
		default:
			out = append(appendKey(out, 1, k.Raw), v.Raw...)
		}
		return true
	})
	if !idDone {
		out = appendJSONString(appendKey(out, 1, `"id"`), r.ID)
	}
	if !metaDone {
		out = meta.appendTo(appendKey(out, 1, `"meta"`), gjson.Result{})
	}
	return append(out, '}'), nil
}

// servedMeta are the meta fields the server sets, names and values.
type servedMeta [3][2]string

// appendTo appends the supplier's meta (an object, or nothing) with m's
// fields set: in place where the supplier had them, else at the end.
func (m servedMeta) appendTo(out []byte, supplied gjson.Result) []byte {
	out = append(out, '{')
	start := len(out)
	var set [len(m)]bool
	supplied.ForEach(func(k, v gjson.Result) bool {
		out = appendKey(out, start, k.Raw)
		for i, kv := range m {
			if k.String() == kv[0] {
				out, set[i] = appendJSONString(out, kv[1]), true
				return true
			}
		}
		out = append(out, v.Raw...)
		return true
	})
	for i, kv := range m {
		if !set[i] {
			out = appendJSONString(appendKey(out, start, `"`+kv[0]+`"`), kv[1])
		}
	}
	return append(out, '}')
}

// appendKey appends an object's next key (raw: quoted) and its colon, after a
// comma unless it is the first, the object's fields starting at start.
func appendKey(out []byte, start int, raw string) []byte {
	if len(out) > start {
		out = append(out, ',')
	}
	return append(append(out, raw...), ':')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
