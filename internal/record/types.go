package record

import (
	"slices"
	"time"
)

// Record roles (the same names as the access package's record accounts).
const (
	RoleCareProfessional = "care_professional"
	RoleAdministrator    = "administrator"
)

// Section is one part of the viewer.
type Section string

// The viewer's sections. Demographics is the patient banner.
const (
	Demographics Section = "demographics"
	Summary      Section = "summary"
	Appointments Section = "appointments"
	Encounters   Section = "encounters"
	Problems     Section = "problems"
	Medications  Section = "medications"
	Allergies    Section = "allergies"
	Results      Section = "results"
	Documents    Section = "documents"
)

// Sections lists the viewer's sections (after the banner) in page order.
var Sections = []Section{Summary, Appointments, Encounters, Problems, Medications, Allergies, Results, Documents}

// SectionTitle is a section's heading.
func SectionTitle(s Section) string { return sectionTitles[s] }

var sectionTitles = map[Section]string{Demographics: "Demographics", Summary: "Summary", Appointments: "Appointments", Encounters: "Encounters",
	Problems: "Problems", Medications: "Medications", Allergies: "Allergies", Results: "Results", Documents: "Documents"}

// The FHIR resource types the record holds, and the section each belongs to.
var typeSection = map[string]Section{
	"Patient":             Demographics,
	"Appointment":         Appointments,
	"Encounter":           Encounters,
	"Condition":           Problems,
	"MedicationStatement": Medications,
	"MedicationRequest":   Medications,
	"AllergyIntolerance":  Allergies,
	"Observation":         Results,
	"DocumentReference":   Documents,
}

// Types lists the FHIR resource types the record holds, sorted.
func Types() []string {
	out := make([]string, 0, len(typeSection))
	for t := range typeSection {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// SupportedType reports whether the record holds resources of type t.
func SupportedType(t string) bool { _, ok := typeSection[t]; return ok }

// SectionOf returns the section a resource type is shown in.
func SectionOf(resourceType string) Section { return typeSection[resourceType] }

// typesOf lists the resource types shown in a section.
func typesOf(s Section) []string {
	var out []string
	for t, sec := range typeSection {
		if sec == s {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// RoleSees is the role filter: a Care Professional sees every section; an
// Administrator sees demographics and appointments only. Anything else sees
// nothing. The viewer, the FHIR API and reports all ask here.
func RoleSees(role string, s Section) bool {
	switch role {
	case RoleCareProfessional:
		return s == Demographics || slices.Contains(Sections, s)
	case RoleAdministrator:
		return s == Demographics || s == Appointments
	}
	return false
}

// VisibleSections lists the sections (after the banner) a role sees.
func VisibleSections(role string) []Section {
	var out []Section
	for _, s := range Sections {
		if RoleSees(role, s) {
			out = append(out, s)
		}
	}
	return out
}

// How a view came about, as the audit trail records it.
const (
	ViaSearch = "search" // the member searched for the patient in the portal
	ViaLaunch = "launch" // a clinical system launched the viewer in context
	ViaAPI    = "api"    // the FHIR API
)

// Viewer is a person who has passed the gate, with what the role filter
// needs: their record role and organisation.
type Viewer struct {
	UserID         string
	Email          string
	Role           string
	OrganisationID string
	ODS            string
	Via            string
}

// Item is one resource as the viewer shows it.
type Item struct {
	ID           string    `json:"id"`
	Type         string    `json:"resource_type"`
	Date         string    `json:"date"`
	Display      string    `json:"display"`
	Status       string    `json:"status"`
	Organisation string    `json:"organisation"` // the supplier's name
	ODS          string    `json:"ods_code"`
	UpdatedAt    time.Time `json:"updated_at"` // when the supplier last sent it
}

// Patient is the banner: who the record is about.
type Patient struct {
	NHSNumber  string `json:"nhs_number"`
	Name       string `json:"name"`
	BirthDate  string `json:"birth_date"`
	Gender     string `json:"gender"`
	Address    string `json:"address"`
	GPPractice string `json:"gp_practice"`
	Source     string `json:"source"` // the organisation whose demographics are shown
	UpdatedAt  time.Time
}

// Match is one patient search result: only what is needed to pick the right
// person (no address beyond the postcode district, nothing clinical).
type Match struct {
	NHSNumber        string `json:"nhs_number"`
	Name             string `json:"name"`
	BirthDate        string `json:"birth_date"`
	Gender           string `json:"gender"`
	PostcodeDistrict string `json:"postcode_district"`
}

// Query is a patient search: an NHS number, or a family name with a date of
// birth (optionally given name, sex and postcode).
type Query struct {
	NHSNumber string
	Family    string
	Given     string
	BirthDate string // YYYY-MM-DD
	Gender    string // male | female | other | unknown
	Postcode  string
}

// View is what the viewer shows for one section of a patient's record.
type View struct {
	Patient                          *Patient
	Section                          Section
	Sections                         []Section       // the sections the viewer's role sees
	Items                            []Item          // the section's items, newest first
	Counts                           map[Section]int // for the summary
	Allergies, Problems, Medications []Item          // for the summary
}
