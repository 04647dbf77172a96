package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
)

// The synthetic population of the demo record: made-up patients whose data
// the demo organisations have published — the GP practice their
// registration, problems, medicines and allergies; the hospital trust
// attendances, clinic appointments, results and letters; community health
// and social care visits. The same seed gives the same people and records
// on every run. NHS numbers are in the 999 range, which no real patient has,
// and pass the modulus 11 check. Benchmarks reuse it at 100,000 patients.

// DemoPatients is how many patients serve --demo loads.
const DemoPatients = 2000

// populationSeed fixes the population.
const populationSeed = 20261127

var (
	femaleNames = []string{"Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Aisha", "Priya", "Zara", "Margaret", "Joan", "Patricia",
		"Susan", "Linda", "Helen", "Fatima", "Chloe", "Emily", "Sophie", "Hannah", "Ewa", "Niamh", "Maryam"}
	maleNames = []string{"Oliver", "George", "Arthur", "Noah", "Muhammad", "Leo", "Harry", "Oscar", "Jack", "Arjun", "David", "John", "Peter",
		"Michael", "Robert", "Kwame", "Tomasz", "Ravi", "Daniel", "James", "Samuel", "Liam", "Yusuf", "Connor"}
	familyNames = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright", "Thompson",
		"Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan", "Wood", "Jackson", "Clarke", "Mistry", "Begum", "Hughes", "Edwards",
		"Lewis", "Okafor", "Nowak", "Kaur", "Singh", "Ahmed", "Murphy", "Harris", "Martin", "Cooper", "Ward", "Morris", "Chauhan", "Mensah"}
	streets   = []string{"High Street", "Station Road", "Church Lane", "Mill Lane", "Victoria Road", "Park Avenue", "London Road", "The Crescent", "Oak Close", "Meadow Way"}
	towns     = []string{"Westshire", "Northgate", "Riverside", "Eastbrook", "Ashford Green"}
	districts = []string{"WS1", "WS2", "WS3", "WS4", "WS5", "WS6", "WS7", "WS8", "WS9", "WS10", "WS11", "WS12"}

	conditions = []concept{{"44054006", "Type 2 diabetes mellitus"}, {"38341003", "Hypertension"}, {"195967001", "Asthma"},
		{"13645005", "Chronic obstructive pulmonary disease"}, {"49436004", "Atrial fibrillation"}, {"35489007", "Depressive disorder"},
		{"709044004", "Chronic kidney disease"}, {"396275006", "Osteoarthritis"}, {"84114007", "Heart failure"}, {"40930008", "Hypothyroidism"},
		{"26929004", "Alzheimer's disease"}, {"73211009", "Diabetes mellitus"}}
	medicines = []medicine{{"Metformin 500mg tablets", "One tablet twice a day with food"}, {"Ramipril 5mg capsules", "One capsule each morning"},
		{"Salbutamol 100micrograms inhaler", "Two puffs when required"}, {"Apixaban 5mg tablets", "One tablet twice a day"},
		{"Sertraline 50mg tablets", "One tablet each morning"}, {"Levothyroxine 75micrograms tablets", "One tablet each morning before food"},
		{"Atorvastatin 20mg tablets", "One tablet at night"}, {"Bisoprolol 2.5mg tablets", "One tablet each morning"},
		{"Paracetamol 500mg tablets", "Two tablets up to four times a day"}, {"Furosemide 40mg tablets", "One tablet each morning"},
		{"Amlodipine 5mg tablets", "One tablet a day"}, {"Donepezil 10mg tablets", "One tablet at night"}}
	allergens    = []concept{{"764146007", "Penicillin"}, {"91936005", "Allergy to penicillin"}, {"300913006", "Shellfish"}, {"91935009", "Peanuts"}, {"294505008", "Amoxicillin"}, {"418689008", "Latex"}}
	reactions    = []string{"Rash", "Urticaria", "Anaphylaxis", "Wheeze", "Swelling of the lips"}
	observations = []obsKind{{"HbA1c", "mmol/mol", 38, 90}, {"Systolic blood pressure", "mm[Hg]", 105, 175}, {"Body mass index", "kg/m2", 18, 42},
		{"eGFR", "mL/min/1.73m2", 25, 100}, {"Heart rate", "/min", 52, 110}, {"Total cholesterol", "mmol/L", 3, 8}, {"Haemoglobin", "g/L", 95, 165}}
	encounters   = []string{"Emergency department attendance", "Cardiology outpatient clinic", "Respiratory clinic", "Inpatient stay: general medicine", "Fracture clinic", "Diabetes clinic"}
	appointments = []string{"Diabetes review", "Cardiology follow-up", "Annual asthma review", "Blood test", "District nurse visit: wound dressing", "Memory clinic", "Physiotherapy"}
	documents    = []string{"Discharge summary", "Outpatient clinic letter", "Emergency department letter", "Radiology report: chest X-ray", "Care and support plan"}
	community    = []string{"District nurse home visit", "Community mental health review", "Falls assessment at home"}
	socialCare   = []string{"Social care needs assessment", "Carer's assessment", "Reablement visit"}
)

type concept struct{ code, display string }
type medicine struct{ name, dose string }
type obsKind struct {
	name, unit string
	lo, hi     float64
}

// The demo organisations' roles in the population.
const (
	odsGP        = "M85001"
	odsHospital  = "RX9"
	odsCommunity = "RY4"
	odsCouncil   = "WSC01"
)

// PatientNHSNumbers returns the NHS numbers of the first n synthetic
// patients: 999 followed by six digits, counting up, skipping the numbers
// whose check digit would be 10.
func PatientNHSNumbers(n int) []string {
	out := make([]string, 0, n)
	for k := 0; len(out) < n && k < 1000000; k++ {
		nine := fmt.Sprintf("999%06d", k)
		if d := record.NHSCheckDigit(nine); d >= 0 {
			out = append(out, fmt.Sprintf("%s%d", nine, d))
		}
	}
	return out
}

type res = map[string]any

func cc(system, code, display string) res {
	c := res{"text": display}
	if code != "" {
		c["coding"] = []any{res{"system": system, "code": code, "display": display}}
	}
	return c
}

func snomed(c concept) res { return cc("http://snomed.info/sct", c.code, c.display) }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// PatientRecords returns the resources each organisation holds about
// synthetic patient i (whose NHS number is nhs), as of now: ODS code →
// resources. The same i always gives the same records.
func PatientRecords(i int, nhs string, now time.Time) map[string][]res {
	r := rand.New(rand.NewPCG(populationSeed, uint64(i)))
	female := r.IntN(2) == 0
	given := pick(r, maleNames)
	gender := "male"
	if female {
		given, gender = pick(r, femaleNames), "female"
	}
	family := pick(r, familyNames)
	age := 1 + r.IntN(95)
	birth := now.AddDate(-age, -r.IntN(12), -r.IntN(28))
	district := pick(r, districts)
	postcode := fmt.Sprintf("%s %d%c%c", district, r.IntN(9)+1, 'A'+rune(r.IntN(26)), 'A'+rune(r.IntN(26)))
	address := res{"line": []any{fmt.Sprintf("%d %s", 1+r.IntN(180), pick(r, streets))}, "city": pick(r, towns), "postalCode": postcode}
	pid := fmt.Sprintf("pat-%d", i)
	patient := func(ods string) res {
		return res{"resourceType": "Patient", "id": pid,
			"identifier": []any{res{"system": record.NHSNumberSystem, "value": nhs}},
			"name":       []any{res{"use": "official", "family": family, "given": []any{given}}},
			"gender":     gender, "birthDate": birth.Format("2006-01-02"), "address": []any{address},
			"generalPractitioner": []any{res{"display": "Meadow Lane Surgery",
				"identifier": res{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": odsGP}}}}
	}
	ref := res{"reference": "Patient/" + pid}
	day := func(maxDaysAgo int) time.Time { return now.AddDate(0, 0, -r.IntN(maxDaysAgo+1)) }
	out := map[string][]res{odsGP: {patient(odsGP)}}
	add := func(ods string, v res) {
		if _, ok := out[ods]; !ok {
			out[ods] = []res{patient(ods)}
		}
		out[ods] = append(out[ods], v)
	}
	// The GP practice: problems (more with age), medicines, allergies.
	nProblems := r.IntN(2 + age/20)
	for k := 0; k < nProblems; k++ {
		c := pick(r, conditions)
		add(odsGP, res{"resourceType": "Condition", "id": fmt.Sprintf("%s-cond-%d", pid, k), "subject": ref, "code": snomed(c),
			"clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
			"onsetDateTime":  day(365 * min(age, 30)).Format("2006-01-02")})
	}
	for k := 0; k < nProblems+r.IntN(2); k++ {
		m := pick(r, medicines)
		add(odsGP, res{"resourceType": "MedicationStatement", "id": fmt.Sprintf("%s-med-%d", pid, k), "status": "active", "subject": ref,
			"medicationCodeableConcept": res{"text": m.name}, "dosage": []any{res{"text": m.dose}},
			"effectiveDateTime": day(1500).Format("2006-01-02")})
	}
	if r.IntN(4) == 0 {
		a := pick(r, allergens)
		add(odsGP, res{"resourceType": "AllergyIntolerance", "id": pid + "-allergy-0", "patient": ref, "code": snomed(a),
			"clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
			"reaction":       []any{res{"manifestation": []any{res{"text": pick(r, reactions)}}}}, "recordedDate": day(7000).Format("2006-01-02")})
	}
	for k := 0; k < 1+r.IntN(3); k++ {
		o := pick(r, observations)
		v := o.lo + r.Float64()*(o.hi-o.lo)
		add(odsGP, res{"resourceType": "Observation", "id": fmt.Sprintf("%s-obs-%d", pid, k), "status": "final", "subject": ref,
			"code": res{"text": o.name}, "valueQuantity": res{"value": float64(int(v*10)) / 10, "unit": o.unit},
			"effectiveDateTime": day(700).Format(time.RFC3339)})
	}
	add(odsGP, res{"resourceType": "Appointment", "id": pid + "-gp-appt", "status": "booked", "description": pick(r, appointments),
		"start": now.AddDate(0, 0, 1+r.IntN(60)).Truncate(time.Hour).Format(time.RFC3339), "participant": []any{res{"actor": ref, "status": "accepted"}}})
	// The hospital: most patients have been seen there.
	if r.IntN(10) < 6 {
		for k := 0; k < 1+r.IntN(3); k++ {
			when := day(900)
			add(odsHospital, res{"resourceType": "Encounter", "id": fmt.Sprintf("%s-enc-%d", pid, k), "status": "finished", "subject": ref,
				"class": res{"display": "ambulatory"}, "type": []any{res{"text": pick(r, encounters)}},
				"period": res{"start": when.Format(time.RFC3339), "end": when.Add(3 * time.Hour).Format(time.RFC3339)}})
			add(odsHospital, res{"resourceType": "DocumentReference", "id": fmt.Sprintf("%s-doc-%d", pid, k), "status": "current", "subject": ref,
				"description": pick(r, documents), "date": when.Add(26 * time.Hour).Format(time.RFC3339)})
		}
		if r.IntN(2) == 0 {
			add(odsHospital, res{"resourceType": "Appointment", "id": pid + "-opd", "status": "booked", "description": pick(r, appointments),
				"start": now.AddDate(0, 0, 3+r.IntN(90)).Truncate(time.Hour).Format(time.RFC3339), "participant": []any{res{"actor": ref, "status": "accepted"}}})
		}
		if r.IntN(3) == 0 {
			m := pick(r, medicines)
			add(odsHospital, res{"resourceType": "MedicationRequest", "id": pid + "-rx", "status": "active", "intent": "order", "subject": ref,
				"medicationCodeableConcept": res{"text": m.name}, "dosageInstruction": []any{res{"text": m.dose}},
				"authoredOn": day(200).Format("2006-01-02")})
		}
	}
	if age > 65 && r.IntN(3) == 0 {
		add(odsCommunity, res{"resourceType": "Encounter", "id": pid + "-visit", "status": "finished", "subject": ref,
			"type": []any{res{"text": pick(r, community)}}, "period": res{"start": day(120).Format(time.RFC3339)}})
	}
	if age > 70 && r.IntN(5) == 0 {
		add(odsCouncil, res{"resourceType": "Encounter", "id": pid + "-sc", "status": "finished", "subject": ref,
			"type": []any{res{"text": pick(r, socialCare)}}, "period": res{"start": day(200).Format(time.RFC3339)}})
	}
	return out
}

// LoadPatients publishes n synthetic patients into the record as the demo
// organisations (which must exist), in transaction Bundles of batch
// patients per organisation. It does nothing if patients are already
// there. progress, if not nil, is told after each batch.
func LoadPatients(ctx context.Context, db *store.DB, rec *record.Service, n, batch int, progress func(done int)) error {
	var have int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM record_resources WHERE resource_type = 'Patient'`).Scan(&have); err != nil {
		return err
	}
	if have > 0 {
		return nil
	}
	pubs := map[string]*record.Publisher{}
	for _, ods := range []string{odsGP, odsHospital, odsCommunity, odsCouncil} {
		var id string
		if err := db.QueryRow(ctx, `SELECT id FROM organisations WHERE ods_code = ?`, ods).Scan(&id); err != nil {
			return fmt.Errorf("demo organisation %s: %w", ods, err)
		}
		pubs[ods] = &record.Publisher{ClientID: "demo-loader", OrganisationID: id, ODS: ods}
	}
	if batch <= 0 {
		batch = 200
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	nhs := PatientNHSNumbers(n)
	for start := 0; start < n; start += batch {
		entries := map[string][]any{}
		for i := start; i < min(n, start+batch); i++ {
			for ods, rs := range PatientRecords(i, nhs[i], now) {
				for _, r := range rs {
					entries[ods] = append(entries[ods], res{"resource": r, "request": res{"method": "PUT", "url": fmt.Sprint(r["resourceType"], "/", r["id"])}})
				}
			}
		}
		for _, ods := range []string{odsGP, odsHospital, odsCommunity, odsCouncil} {
			if len(entries[ods]) == 0 {
				continue
			}
			b, err := json.Marshal(res{"resourceType": "Bundle", "type": "transaction", "entry": entries[ods]})
			if err != nil {
				return err
			}
			if _, err := rec.Ingest(ctx, pubs[ods], b); err != nil {
				return fmt.Errorf("demo patients %d–%d from %s: %w", start, start+batch, ods, err)
			}
		}
		if db.Dialect == store.Postgres && (start == 0 || (start/batch)%20 == 0) {
			// Fresh statistics while the table grows from nothing: without
			// them PostgreSQL's planner, thinking the table empty, looked
			// stored rows up with the wrong index (50 ms instead of 0.1 ms).
			// Not on SQLite: its planner picks the indexes well without
			// statistics, and with them (sqlite_stat4) it recompiles every
			// prepared statement whenever a parameter changes — 13% of a
			// record read's CPU.
			if _, err := db.Exec(ctx, `ANALYZE record_resources`); err != nil {
				return err
			}
		}
		if progress != nil {
			progress(min(n, start+batch))
		}
	}
	return nil
}

// PatientName returns the name of synthetic patient i, as the viewer
// shows it ("Given FAMILY"), for the demo's start page and tests.
func PatientName(i int) string {
	recs := PatientRecords(i, "9990000000", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	p := recs[odsGP][0]
	name := p["name"].([]any)[0].(res)
	return name["given"].([]any)[0].(string) + " " + strings.ToUpper(name["family"].(string))
}
