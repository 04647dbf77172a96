package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/errs"
)

// resource is one FHIR resource read from a publisher's payload, with the
// columns taken from it for search and the viewer.
type resource struct {
	Type, ID   string
	NHS        string // the patient's NHS number (Patient: its own)
	PatientRef string // clinical resources: the reference to resolve ("Patient/x", a fullUrl)
	FullURL    string // the bundle entry's fullUrl, if any
	Family     string // Patient: lower case
	Given      string
	BirthDate  string
	Gender     string
	Postcode   string // upper case, no spaces
	Date       string
	Display    string
	Status     string
	Source     string // meta.source, if given
	Body       []byte // as supplied, in canonical form (see canonical)
	Where      string // FHIRPath of the resource in the payload, for errors
}

var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

type obj = map[string]any

func str(m obj, k string) string { s, _ := m[k].(string); return s }
func sub(m obj, k string) obj    { o, _ := m[k].(obj); return o }
func list(m obj, k string) []any { a, _ := m[k].([]any); return a }
func first(m obj, k string) obj {
	if a := list(m, k); len(a) > 0 {
		o, _ := a[0].(obj)
		return o
	}
	return nil
}

// concept is the text of a CodeableConcept: its text, else the first
// coding's display, else its code.
func concept(c obj) string {
	if c == nil {
		return ""
	}
	if t := str(c, "text"); t != "" {
		return t
	}
	if cd := first(c, "coding"); cd != nil {
		if d := str(cd, "display"); d != "" {
			return d
		}
		return str(cd, "code")
	}
	return ""
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " – ")
}

// decodeJSON parses one JSON value, refusing trailing data.
func decodeJSON(b []byte) (obj, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m obj
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// Target is the address a payload was sent to: the FHIR base (zero: a
// transaction Bundle or one resource), a type (POST: one resource of that
// type) or a resource's own address (PUT: its type and id).
type Target struct{ Type, ID string }

// parsePayload reads a single resource or a transaction Bundle sent to the
// target; the body is parsed once, here. Every problem found is reported
// with where it is; nothing is returned unless everything is valid. A
// resource is the same whether it came alone or in a Bundle: its stored
// body is its canonical JSON (see canonical) and its address is checked
// alike (see checkAddress), so re-sending it either way is one row and one
// version.
func parsePayload(body []byte, to Target) ([]*resource, error) {
	m, err := decodeJSON(body)
	if err != nil {
		return nil, &errs.Error{Code: errs.Invalid, Message: "The body is not valid FHIR JSON: " + jsonProblem(err),
			Fields: []errs.FieldError{{Field: "$", Message: "not valid JSON: " + jsonProblem(err)}}}
	}
	var v errs.Validation
	var out []*resource
	if str(m, "resourceType") == "Bundle" && to.Type == "" {
		if t := str(m, "type"); t != "transaction" {
			v.Add("Bundle.type", "Bundle.type must be \"transaction\" (got %q)", t)
			return nil, v.Err()
		}
		entries := list(m, "entry")
		if len(entries) == 0 {
			v.Add("Bundle.entry", "The Bundle has no entries")
		}
		for i, e := range entries {
			where := fmt.Sprintf("Bundle.entry[%d]", i)
			em, _ := e.(obj)
			rm := sub(em, "resource")
			if rm == nil {
				v.Add(where+".resource", "The entry has no resource")
				continue
			}
			r := parseResource(&v, rm, where+".resource")
			if r != nil {
				r.FullURL = str(em, "fullUrl")
				if req := sub(em, "request"); req != nil {
					checkEntryRequest(&v, r, str(req, "method"), str(req, "url"), where+".request")
				}
				out = append(out, r)
			}
		}
	} else {
		where := firstNonEmpty(to.Type, str(m, "resourceType"))
		if to.Type != "" && str(m, "resourceType") != to.Type {
			v.Add(where+".resourceType", "The body is a %s, not a %s: it does not match the address", firstNonEmpty(str(m, "resourceType"), "resource without a type"), to.Type)
			return nil, v.Err()
		}
		if r := parseResource(&v, m, where); r != nil {
			checkAddress(&v, r, to)
			out = append(out, r)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, r := range out {
		k := r.Type + "/" + r.ID
		if w, dup := seen[k]; dup {
			v.Add(r.Where+".id", "%s appears twice in the Bundle (also at %s)", k, w)
		}
		seen[k] = r.Where
	}
	return out, v.Err()
}

// checkEntryRequest checks a Bundle entry's request as a single resource's
// HTTP request is checked: PUT {type}/{id} or POST {type} (relative or
// absolute), the address the resource's own. An entry without a url is
// taken to be sent to its resource's address.
func checkEntryRequest(v *errs.Validation, r *resource, method, url, where string) {
	segs := strings.Split(strings.Trim(url, "/"), "/")
	var to Target
	switch n := len(segs); {
	case method == "PUT" && n >= 2:
		to = Target{Type: segs[n-2], ID: segs[n-1]}
	case method == "PUT" || method == "POST":
		to.Type = segs[n-1]
	default:
		v.Add(where+".method", "Only PUT and POST entries are accepted (got %q)", method)
		return
	}
	if url != "" && to.Type != r.Type {
		v.Add(where+".url", "The entry is sent to %q, which is not an address of %s/%s", url, r.Type, r.ID)
		return
	}
	checkAddress(v, r, to)
}

// checkAddress refuses a resource sent to an address that is not its own:
// its id must be the one the address names (the type is checked before).
func checkAddress(v *errs.Validation, r *resource, to Target) {
	if to.ID != "" && r.ID != to.ID {
		v.Add(r.Where+".id", "%s/%s is sent to the address of %s/%s: the id must be %s", r.Type, r.ID, r.Type, to.ID, to.ID)
	}
}

// canonical is the form a resource is stored and compared in, whether it
// came alone or in a Bundle: compact JSON, keys sorted, numbers as written
// (the decoder keeps them as json.Number).
func canonical(m obj) []byte {
	b, _ := json.Marshal(m) // a decoded JSON object always encodes
	return b
}

func jsonProblem(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// parseResource checks one resource and takes its columns; it returns nil
// when the resource is invalid (the problems are in v).
func parseResource(v *errs.Validation, m obj, where string) *resource {
	r := &resource{Type: str(m, "resourceType"), ID: str(m, "id"), Body: canonical(m), Where: where}
	if !SupportedType(r.Type) {
		v.Add(where+".resourceType", "Resource type %q is not accepted; the record holds %s", r.Type, strings.Join(Types(), ", "))
		return nil
	}
	n := len(v.Fields)
	if !fhirID.MatchString(r.ID) {
		v.Add(where+".id", "%s.id must be 1–64 letters, digits, '-' or '.'", r.Type)
	}
	if meta := sub(m, "meta"); meta != nil {
		r.Source = str(meta, "source")
	}
	if r.Type != "Patient" {
		subject(patientOf(m, r.Type), r)
	}
	switch r.Type {
	case "Patient":
		parsePatient(v, m, r, where)
	case "Appointment":
		r.Date = str(m, "start")
		r.Display = join(firstNonEmpty(str(m, "description"), concept(first(m, "serviceType")), concept(first(m, "appointmentType"))))
		r.Status = str(m, "status")
	case "Encounter":
		r.Date = str(sub(m, "period"), "start")
		r.Display = firstNonEmpty(concept(first(m, "type")), concept(first(m, "reasonCode")), str(sub(m, "class"), "display"))
		r.Status = str(m, "status")
	case "Condition":
		r.Date = firstNonEmpty(str(m, "onsetDateTime"), str(m, "recordedDate"))
		r.Display = concept(sub(m, "code"))
		r.Status = concept(sub(m, "clinicalStatus"))
	case "MedicationStatement", "MedicationRequest":
		med := firstNonEmpty(concept(sub(m, "medicationCodeableConcept")), str(sub(m, "medicationReference"), "display"))
		var dose string
		if r.Type == "MedicationStatement" {
			dose = str(first(m, "dosage"), "text")
			r.Date = firstNonEmpty(str(m, "effectiveDateTime"), str(sub(m, "effectivePeriod"), "start"), str(m, "dateAsserted"))
		} else {
			dose = str(first(m, "dosageInstruction"), "text")
			r.Date = str(m, "authoredOn")
		}
		r.Display = join(med, dose)
		r.Status = str(m, "status")
	case "AllergyIntolerance":
		r.Date = firstNonEmpty(str(m, "recordedDate"), str(m, "onsetDateTime"))
		r.Display = join(concept(sub(m, "code")), concept(first(first(m, "reaction"), "manifestation")))
		r.Status = concept(sub(m, "clinicalStatus"))
	case "Observation":
		r.Date = firstNonEmpty(str(m, "effectiveDateTime"), str(m, "issued"))
		val := str(m, "valueString")
		if q := sub(m, "valueQuantity"); q != nil {
			val = strings.TrimSpace(fmt.Sprint(q["value"]) + " " + firstNonEmpty(str(q, "unit"), str(q, "code")))
		}
		r.Display = join(concept(sub(m, "code")), val)
		r.Status = str(m, "status")
	case "DocumentReference":
		r.Date = str(m, "date")
		r.Display = firstNonEmpty(str(m, "description"), concept(sub(m, "type")))
		r.Status = str(m, "status")
	}
	if r.Type != "Patient" && r.NHS == "" && r.PatientRef == "" {
		v.Add(where+"."+patientField(r.Type), "%s must refer to its patient (a Patient reference or an NHS number identifier)", r.Type)
	}
	if r.Date != "" && !validFHIRDate(r.Date) {
		v.Add(where, "%s has a date that is not a FHIR date or dateTime: %q", r.Type, r.Date)
	}
	if len(r.Display) > 500 {
		r.Display = r.Display[:500]
	}
	if len(v.Fields) > n {
		return nil
	}
	return r
}

func asObj(a any) obj { o, _ := a.(obj); return o }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// subject takes the patient a clinical resource is about.
// patientField is the element by which a resource of type typ refers to
// its patient.
func patientField(typ string) string {
	switch typ {
	case "AllergyIntolerance":
		return "patient"
	case "Appointment":
		return "participant"
	}
	return "subject"
}

// patientOf returns the reference to a resource's patient: its subject or
// patient, or for an Appointment the first participant whose actor is a
// Patient reference (a Bundle's urn: reference included) or carries an NHS
// number. Ingest takes the patient from it, and the FHIR API points it at
// the server's Patient.
func patientOf(m obj, typ string) obj {
	if typ != "Appointment" {
		return sub(m, patientField(typ))
	}
	for _, p := range list(m, "participant") {
		actor := sub(asObj(p), "actor")
		if ref := str(actor, "reference"); strings.Contains(ref, "Patient/") || strings.HasPrefix(ref, "urn:") ||
			nhsIdentifier(sub(actor, "identifier")) != "" {
			return actor
		}
	}
	return nil
}

// subject takes the patient of a resource from its reference to them: an
// NHS number identifier, or else the reference.
func subject(ref obj, r *resource) {
	if nhs := nhsIdentifier(sub(ref, "identifier")); nhs != "" {
		r.NHS = nhs
		return
	}
	r.PatientRef = str(ref, "reference")
}

// nhsIdentifier returns the value of an NHS number identifier, unchecked.
func nhsIdentifier(id obj) string {
	if id != nil && str(id, "system") == NHSNumberSystem {
		return NormaliseNHSNumber(str(id, "value"))
	}
	return ""
}

func parsePatient(v *errs.Validation, m obj, r *resource, where string) {
	found := false
	for i, id := range list(m, "identifier") {
		io := asObj(id)
		if str(io, "system") != NHSNumberSystem {
			continue
		}
		found = true
		nhs := NormaliseNHSNumber(str(io, "value"))
		if !ValidNHSNumber(nhs) {
			v.Add(fmt.Sprintf("%s.identifier[%d].value", where, i), "%q is not a valid NHS number: it must be 10 digits and pass the modulus 11 check", str(io, "value"))
			return
		}
		r.NHS = nhs
		break
	}
	if !found {
		v.Add(where+".identifier", "A Patient must carry an NHS number identifier (system %s)", NHSNumberSystem)
		return
	}
	name := first(m, "name")
	r.Family = strings.ToLower(strings.TrimSpace(str(name, "family")))
	if g := list(name, "given"); len(g) > 0 {
		r.Given, _ = g[0].(string)
		r.Given = strings.ToLower(strings.TrimSpace(r.Given))
	}
	if r.Family == "" {
		v.Add(where+".name[0].family", "A Patient must have a family name")
	}
	r.BirthDate = str(m, "birthDate")
	if r.BirthDate != "" {
		if _, err := time.Parse("2006-01-02", r.BirthDate); err != nil {
			v.Add(where+".birthDate", "birthDate must be a date YYYY-MM-DD (got %q)", r.BirthDate)
		}
	}
	r.Gender = str(m, "gender")
	switch r.Gender {
	case "", "male", "female", "other", "unknown":
	default:
		v.Add(where+".gender", "gender must be male, female, other or unknown (got %q)", r.Gender)
	}
	r.Postcode = NormalisePostcode(str(first(m, "address"), "postalCode"))
	r.Display = patientName(m)
}

// NormalisePostcode makes a postcode comparable: upper case, no spaces.
func NormalisePostcode(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

func validFHIRDate(s string) bool {
	for _, layout := range []string{"2006", "2006-01", "2006-01-02", time.RFC3339, "2006-01-02T15:04:05.999999999Z07:00"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// patientName is "Given FAMILY" from a Patient's first name.
func patientName(m obj) string {
	name := first(m, "name")
	var given []string
	for _, g := range list(name, "given") {
		if s, ok := g.(string); ok {
			given = append(given, s)
		}
	}
	return strings.TrimSpace(strings.Join(given, " ") + " " + strings.ToUpper(str(name, "family")))
}
