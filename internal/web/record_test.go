package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
)

// recordRegion is one organisation with a publishing client, a clinical
// system, a Care Professional and an Administrator, and one patient.
type recordRegion struct {
	org     *org.Organisation
	site    *org.Site
	cp, adm *auth.User
	secret  string // the client secret
	client  string
	system  string // the clinical system's id
	key     []byte // its private JWK
	nhs     string
	ids     map[string]string // resource type → server id
}

const recordODS = "RX7"

func (e *env) recordRegion() *recordRegion {
	e.t.Helper()
	ctx := context.Background()
	p, err := authz.Load(ctx, e.app.DB, e.admin)
	if err != nil {
		e.t.Fatal(err)
	}
	rr := &recordRegion{ids: map[string]string{}}
	ods, name, routing, d := recordODS, "Record Trust", org.RoutingSiteAuthoriser, []string{"nhs.net"}
	if rr.org, err = e.app.Orgs.CreateOrganisation(ctx, p, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing, AllowedDomains: &d}); err != nil {
		e.t.Fatal(err)
	}
	sn := "Ward 7"
	if rr.site, err = e.app.Orgs.CreateSite(ctx, p, rr.org.ID, org.SiteInput{Name: &sn}); err != nil {
		e.t.Fatal(err)
	}
	account := func(email, role string) *auth.User {
		u := e.user(email)
		if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
			if err := e.app.Orgs.AddMemberTx(ctx, tx, audit.System, ident.New(), rr.site.ID, u.ID, "Nurse", "Nursing and midwifery"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, activated_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, 'active', 1, 1, 1)`, ident.New(), u.ID, rr.org.ID, strings.Split(email, "@")[0], role)
			return err
		}); err != nil {
			e.t.Fatal(err)
		}
		return u
	}
	rr.cp, rr.adm = account("carer@nhs.net", record.RoleCareProfessional), account("clerk@nhs.net", record.RoleAdministrator)
	c, secret, err := e.app.Record.CreateClient(ctx, p, record.ClientInput{OrganisationID: rr.org.ID, Name: "Trust EPR"})
	if err != nil {
		e.t.Fatal(err)
	}
	rr.client, rr.secret = c.ID, secret
	priv, pub, err := record.NewSigningKey()
	if err != nil {
		e.t.Fatal(err)
	}
	cs, err := e.app.Record.CreateClinicalSystem(ctx, p, record.ClientInput{OrganisationID: rr.org.ID, Name: "Ward EPR", JWKS: pub})
	if err != nil {
		e.t.Fatal(err)
	}
	rr.system, rr.key = cs.ID, priv
	rr.nhs = "9434765919"
	status, body := e.publish(e.token(rr), "POST", "/fhir/R4/", patientBundle("pt1", rr.nhs))
	if status != http.StatusOK {
		e.t.Fatalf("publish: %d %s", status, body)
	}
	var resp struct {
		Entry []struct {
			Response struct{ Location string } `json:"response"`
		} `json:"entry"`
	}
	json.Unmarshal([]byte(body), &resp)
	for _, en := range resp.Entry {
		parts := strings.Split(en.Response.Location, "/")
		rr.ids[parts[0]] = parts[1]
	}
	return rr
}

// token gets a machine access token with the client secret.
func (e *env) token(rr *recordRegion) string {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {rr.client},
		"client_secret": {rr.secret}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok record.Token
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

func (e *env) publish(token, method, path string, body []byte) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fhirGet reads the FHIR API with a user's API token.
func (e *env) fhirGet(u *auth.User, path string) (int, string) {
	e.t.Helper()
	secret, _, err := e.app.Users.CreateToken(context.Background(), audit.System, u.ID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		e.t.Errorf("%s: content type %q", path, ct)
	}
	return resp.StatusCode, string(b)
}

func patientBundle(pid, nhs string) []byte {
	ref := fmt.Sprintf(`{"reference":"Patient/%s"}`, pid)
	rs := []string{
		fmt.Sprintf(`{"resourceType":"Patient","id":"%s","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%s"}],"name":[{"family":"Okoro","given":["Ada"]}],"birthDate":"1961-07-14","gender":"female","address":[{"line":["2 Mill Lane"],"city":"Leicester","postalCode":"LE2 7QT"}],"generalPractitioner":[{"display":"Meadow Lane Surgery"}]}`, pid, nhs),
		fmt.Sprintf(`{"resourceType":"Appointment","id":"%s-a","status":"booked","start":"2026-12-01T10:00:00Z","description":"Cardiology follow-up","participant":[{"actor":%s,"status":"accepted"}]}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"Encounter","id":"%s-e","status":"finished","subject":%s,"period":{"start":"2026-10-01"},"type":[{"text":"Emergency attendance"}]}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"Condition","id":"%s-c","subject":%s,"code":{"text":"Atrial fibrillation"},"onsetDateTime":"2024-02-01"}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"MedicationStatement","id":"%s-m","status":"active","subject":%s,"medicationCodeableConcept":{"text":"Apixaban 5mg"},"effectiveDateTime":"2024-02-02"}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"MedicationRequest","id":"%s-mr","status":"active","intent":"order","subject":%s,"medicationCodeableConcept":{"text":"Bisoprolol 2.5mg"},"authoredOn":"2024-03-01"}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"AllergyIntolerance","id":"%s-al","patient":%s,"code":{"text":"Penicillin"},"recordedDate":"2001-01-01"}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"Observation","id":"%s-o","status":"final","subject":%s,"code":{"text":"Heart rate"},"valueQuantity":{"value":88,"unit":"/min"},"effectiveDateTime":"2026-10-01"}`, pid, ref),
		fmt.Sprintf(`{"resourceType":"DocumentReference","id":"%s-d","status":"current","subject":%s,"description":"Discharge summary","date":"2026-10-02T12:00:00Z"}`, pid, ref),
	}
	var es []string
	for _, r := range rs {
		es = append(es, `{"resource":`+r+`}`)
	}
	return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(es, ",") + `]}`)
}

func TestRecordViewer(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		rr := e.recordRegion()
		cp := e.browser()
		cp.signIn(rr.cp.Email)
		if p := cp.get("/record"); p.status != http.StatusOK || !p.has("#patient-search") {
			t.Fatalf("search page: %d", p.status)
		}
		p := cp.post("/record/search", url.Values{"nhs_number": {"943 476 5919"}})
		if p.status != http.StatusOK || p.doc.Find("#results tbody tr").Length() != 1 || !strings.Contains(p.text("#results"), "LE2") {
			t.Fatalf("search: %d %s", p.status, p.text("main"))
		}
		if strings.Contains(p.body, "Mill Lane") || strings.Contains(p.body, "Atrial") {
			t.Error("search results disclose more than needed")
		}
		p = cp.post("/record/search", url.Values{"family": {"okoro"}, "birth_date": {"1961-07-14"}, "given": {"Ada"}})
		if p.doc.Find("#results tbody tr").Length() != 1 {
			t.Errorf("search by name: %s", p.text("main"))
		}
		if p = cp.post("/record/search", url.Values{"nhs_number": {"9434765918"}}); p.status != http.StatusBadRequest || !p.has("#error-summary") {
			t.Errorf("bad check digit: %d", p.status)
		}
		// More people match than a search shows: the page says how many,
		// and how to narrow it.
		var entries []string
		for i := 0; len(entries) < 23; i++ {
			n := fmt.Sprintf("999000%04d", i)
			if record.ValidNHSNumber(n) {
				entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Patient","id":"ash%d","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%s"}],"name":[{"family":"Ashdown","given":["Sam"]}],"birthDate":"1980-01-02"}}`, i, n))
			}
		}
		if status, body := e.publish(e.token(rr), "POST", "/fhir/R4/", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`)); status != http.StatusOK {
			t.Fatalf("publish 23 Ashdowns: %d %s", status, body)
		}
		p = cp.post("/record/search", url.Values{"family": {"Ashdown"}, "birth_date": {"1980-01-02"}})
		if p.doc.Find("#results tbody tr").Length() != 20 || p.text("#results-heading") != "23 patients found" || !p.has("#narrow-search") {
			t.Errorf("a broad search: %d rows, %q, narrow: %v", p.doc.Find("#results tbody tr").Length(), p.text("#results-heading"), p.has("#narrow-search"))
		}
		if p = cp.post("/record/search", url.Values{"nhs_number": {"943 476 5919"}}); p.has("#narrow-search") || p.text("#results-heading") != "1 patient found" {
			t.Errorf("a search finding one: %q", p.text("#results-heading"))
		}
		p = cp.get("/record/patients/" + rr.nhs)
		if p.status != http.StatusOK || p.text("#patient-name") != "Ada OKORO" || p.text("#patient-gp") != "Meadow Lane Surgery" {
			t.Fatalf("viewer: %d %q", p.status, p.text("main"))
		}
		for _, s := range record.Sections {
			p := cp.get("/record/patients/" + rr.nhs + "/" + string(s))
			if p.status != http.StatusOK {
				t.Errorf("care professional, %s: %d", s, p.status)
				continue
			}
			if s != record.Summary && !strings.Contains(p.text(".cg-provenance"), "Record Trust (RX7), sent") {
				t.Errorf("care professional, %s: no provenance: %q", s, p.text("main"))
			}
		}
		adm := e.browser()
		adm.signIn(rr.adm.Email)
		p = adm.get("/record/patients/" + rr.nhs)
		if p.status != http.StatusOK || p.text("#section-title") != "Appointments" || p.has("#tab-problems") || p.has("#tab-summary") {
			t.Errorf("administrator's view: %d %q", p.status, p.text("#sections"))
		}
		for _, s := range record.Sections {
			p := adm.get("/record/patients/" + rr.nhs + "/" + string(s))
			want := http.StatusForbidden
			if s == record.Appointments {
				want = http.StatusOK
			}
			if p.status != want {
				t.Errorf("administrator, %s: %d, want %d", s, p.status, want)
			}
			if want == http.StatusForbidden && (strings.Contains(p.body, "Atrial") || strings.Contains(p.body, "Apixaban") || !p.has("#record-refused")) {
				t.Errorf("administrator, %s: refusal page shows data or no refusal", s)
			}
		}
		// The FHIR API, with the same role filter.
		for typ, id := range rr.ids {
			status, body := e.fhirGet(rr.cp, "/fhir/R4/"+typ+"/"+id)
			if status != http.StatusOK || !strings.Contains(body, `"id":"`+id+`"`) || !strings.Contains(body, "ods-organization-code|RX7") {
				t.Errorf("care professional reads %s: %d %s", typ, status, body)
			}
			// References lead to the server's Patient, not the supplier's id.
			if typ != "Patient" && (!strings.Contains(body, `"reference":"Patient/`+rr.ids["Patient"]+`"`) || strings.Contains(body, "Patient/pt1")) {
				t.Errorf("%s's patient reference is not the server's: %s", typ, body)
			}
			status, body = e.fhirGet(rr.adm, "/fhir/R4/"+typ+"/"+id)
			want := http.StatusForbidden
			if typ == "Patient" || typ == "Appointment" {
				want = http.StatusOK
			}
			if status != want || (want == http.StatusForbidden && !strings.Contains(body, `"OperationOutcome"`)) {
				t.Errorf("administrator reads %s: %d, want %d", typ, status, want)
			}
			if typ != "Patient" {
				status, _ = e.fhirGet(rr.adm, "/fhir/R4/"+typ+"?patient=Patient/"+rr.ids["Patient"])
				if status != want {
					t.Errorf("administrator searches %s: %d, want %d", typ, status, want)
				}
			}
		}
		status, body := e.fhirGet(rr.cp, "/fhir/R4/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|"+rr.nhs)
		if status != http.StatusOK || !strings.Contains(body, `"total":1`) {
			t.Errorf("FHIR Patient search: %d %s", status, body)
		}
		// A search result is a minimal Patient; the whole one is a read.
		if strings.Contains(body, "Mill Lane") || strings.Contains(body, "Meadow Lane") || !strings.Contains(body, `"SUBSETTED"`) ||
			!strings.Contains(body, `"postalCode":"LE2"`) || !strings.Contains(body, `"id":"`+rr.ids["Patient"]+`"`) {
			t.Errorf("FHIR Patient search discloses more than needed: %s", body)
		}
		if status, body = e.fhirGet(rr.cp, "/fhir/R4/metadata"); status != http.StatusOK || !strings.Contains(body, "CapabilityStatement") {
			t.Errorf("metadata: %d", status)
		}
		// Last use is written in a batch, not per request.
		if err := e.app.Record.FlushUsage(context.Background()); err != nil {
			t.Fatal(err)
		}
		var used int64
		e.app.DB.QueryRow(context.Background(), `SELECT last_used_at FROM record_accounts WHERE user_id = ?`, rr.cp.ID).Scan(&used)
		if used != e.clock.Now().UnixMicro() {
			t.Errorf("last use of the record account: %d", used)
		}
		// Every access was audited, with role, organisation and how.
		var n int
		e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action IN ('record.view', 'record.section') AND object_id = ?
			AND detail LIKE '%"via":"search"%' AND detail LIKE '%"organisation":"RX7"%'`, rr.nhs).Scan(&n)
		if n < 10 {
			t.Errorf("audited views: %d", n)
		}
	})
}

func TestRecordPublishing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		rr := e.recordRegion()
		tok := e.token(rr)
		// Re-sending changes nothing and adds nothing.
		if status, _ := e.publish(tok, "POST", "/fhir/R4/", patientBundle("pt1", rr.nhs)); status != http.StatusOK {
			t.Fatalf("re-send: %d", status)
		}
		count := func() int {
			var n int
			e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM record_resources`).Scan(&n)
			return n
		}
		if count() != 9 {
			t.Fatalf("rows after re-send: %d", count())
		}
		cond := `{"resourceType":"Condition","id":"pt1-c2","subject":{"reference":"Patient/pt1"},"code":{"text":"Hypertension"}}`
		if status, body := e.publish(tok, "PUT", "/fhir/R4/Condition/pt1-c2", []byte(cond)); status != http.StatusCreated {
			t.Errorf("PUT: %d %s", status, body)
		}
		if status, _ := e.publish(tok, "PUT", "/fhir/R4/Condition/pt1-c2", []byte(cond)); status != http.StatusOK {
			t.Errorf("PUT again: %d", status)
		}
		// Two problems now: a search a page of one at a time links to the
		// next page, which has the other.
		search := "/fhir/R4/Condition?patient=Patient/" + rr.ids["Patient"]
		status, body := e.fhirGet(rr.cp, search+"&_count=1")
		var page struct {
			Total int `json:"total"`
			Link  []struct{ Relation, URL string }
			Entry []struct{ FullURL string }
		}
		if err := json.Unmarshal([]byte(body), &page); status != http.StatusOK || err != nil || page.Total != 2 || len(page.Entry) != 1 ||
			len(page.Link) != 2 || page.Link[1].Relation != "next" {
			t.Fatalf("first page: %d %v %s", status, err, body)
		}
		first := page.Entry[0].FullURL
		next := page.Link[1].URL[strings.Index(page.Link[1].URL, "/fhir/R4/"):]
		status, body = e.fhirGet(rr.cp, next)
		page.Link, page.Entry = nil, nil
		if err := json.Unmarshal([]byte(body), &page); status != http.StatusOK || err != nil || len(page.Entry) != 1 || page.Entry[0].FullURL == first ||
			len(page.Link) != 1 || page.Link[0].Relation != "self" {
			t.Fatalf("second page: %d %v %s", status, err, body)
		}
		refusedSearches := func() (n int) {
			e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'fhir.search' AND outcome = 'refused'`).Scan(&n)
			return n
		}
		before := refusedSearches()
		for q, want := range map[string]string{"&_count=abc": "_count", "&_count=501": "_count", "&_cursor=bogus": "_cursor",
			"&_count=0": "_count", "&_count=-2": "_count"} {
			if status, body := e.fhirGet(rr.cp, search+q); status != http.StatusBadRequest || !strings.Contains(body, `"expression":["`+want+`"]`) {
				t.Errorf("%s: %d %s", q, status, body)
			}
		}
		// A Patient search is not paged: a cursor is refused, not ignored.
		if status, body := e.fhirGet(rr.cp, "/fhir/R4/Patient?identifier="+rr.nhs+"&_cursor=bogus"); status != http.StatusBadRequest ||
			!strings.Contains(body, `"expression":["_cursor"]`) {
			t.Errorf("Patient search with a cursor: %d %s", status, body)
		}
		// Each bad page is refused by the record, and audited, alike.
		if n := refusedSearches() - before; n != 6 {
			t.Errorf("%d refused searches audited, want 6", n)
		}
		// So is a Patient search by an identifier that is not an NHS number.
		before = refusedSearches()
		for _, id := range []string{"https://example.org/mrn|123", "https://fhir.nhs.uk/Id/nhs-number|"} {
			if status, body := e.fhirGet(rr.cp, "/fhir/R4/Patient?identifier="+url.QueryEscape(id)); status != http.StatusBadRequest ||
				!strings.Contains(body, `"expression":["identifier"]`) {
				t.Errorf("identifier %s: %d %s", id, status, body)
			}
		}
		if n := refusedSearches() - before; n != 2 {
			t.Errorf("%d refused identifier searches audited, want 2", n)
		}
		// The same resource in a Bundle is the same row and version.
		inBundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + cond + `,"request":{"method":"PUT","url":"Condition/pt1-c2"}}]}`
		if status, body := e.publish(tok, "POST", "/fhir/R4/", []byte(inBundle)); status != http.StatusOK || !strings.Contains(body, "/_history/1") ||
			!strings.Contains(body, `"unchanged"`) {
			t.Errorf("the PUT resource again in a Bundle: %d %s", status, body)
		}
		for name, c := range map[string]struct {
			token, path string
			body        []byte
			status      int
			want        string
		}{
			"no token":        {"", "/fhir/R4/", patientBundle("x", rr.nhs), 401, "login"},
			"a user's token":  {"cgt_notamachine", "/fhir/R4/", patientBundle("x", rr.nhs), 401, "login"},
			"malformed":       {tok, "/fhir/R4/", []byte(`{"resourceType":`), 400, "not valid JSON"},
			"bad NHS number":  {tok, "/fhir/R4/", patientBundle("x", "9434765918"), 400, "Bundle.entry[0].resource.identifier[0].value"},
			"other org":       {tok, "/fhir/R4/Condition", []byte(`{"resourceType":"Condition","id":"z","meta":{"source":"RX1"},"subject":{"reference":"Patient/pt1"}}`), 403, "publishes for RX7 only"},
			"id mismatch":     {tok, "/fhir/R4/Condition/other", []byte(cond), 400, "Condition.id"},
			"type mismatch":   {tok, "/fhir/R4/Observation", []byte(cond), 400, "Observation.resourceType"},
			"oversized":       {tok, "/fhir/R4/", bytes.Repeat([]byte(" "), 20<<20+10), 413, "20 MB"},
			"half bad bundle": {tok, "/fhir/R4/", bytes.Replace(patientBundle("y", "9999999999"), []byte(`"Patient/y"`), []byte(`"Patient/ghost"`), 1), 400, "ghost"},
		} {
			status, body := e.publish(c.token, "POST", c.path, c.body)
			if name == "id mismatch" {
				status, body = e.publish(c.token, "PUT", c.path, c.body)
			}
			if status != c.status || !strings.Contains(body, c.want) || !strings.Contains(body, "OperationOutcome") {
				t.Errorf("%s: %d %s", name, status, body)
			}
		}
		if count() != 10 {
			t.Errorf("rows after refusals: %d (something partly stored)", count())
		}
		// Every refusal of a publisher's payload is audited, wherever it
		// was sent (the two without a machine token have no publisher).
		var refused int
		e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'record.ingest' AND outcome = 'refused'`).Scan(&refused)
		if refused != 7 {
			t.Errorf("%d refused payloads audited, want 7", refused)
		}
		// A bad secret gets no token.
		resp, _ := http.PostForm(e.srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {rr.client}, "client_secret": {"wrong"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("bad secret: %d", resp.StatusCode)
		}
		resp.Body.Close()
	})
}

func TestRecordLaunch(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		rr := e.recordRegion()
		now := e.clock.Now()
		sign := func(key []byte, c record.LaunchClaims) string {
			tok, err := record.Sign(key, c)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		good := func() record.LaunchClaims {
			return record.NewLaunchClaims(rr.system, rr.cp.Email, recordODS, rr.nhs, "caregate", now, 5*time.Minute)
		}
		otherKey, _, _ := record.NewSigningKey()
		launch := func(b *browser, tok string) *page {
			return b.postRaw("/launch", url.Values{"launch_token": {tok}}, "https://epr.example")
		}

		b := e.browser()
		tok := sign(rr.key, good())
		p := launch(b, tok)
		if p.status != http.StatusSeeOther || p.location() != "/record/patients/"+rr.nhs {
			t.Fatalf("launch: %d %q %s", p.status, p.location(), p.text("main"))
		}
		p = b.get(p.location())
		if p.status != http.StatusOK || !p.has("#launched") || p.text("#patient-nhs") != rr.nhs {
			t.Fatalf("launched view: %d", p.status)
		}
		var n int
		e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'record.view' AND detail LIKE '%"via":"launch"%'`).Scan(&n)
		if n != 1 {
			t.Errorf("launched views audited: %d", n)
		}
		// A search later in the launched session is a search, not a launch.
		if p := b.post("/record/search", url.Values{"nhs_number": {rr.nhs}}); p.status != http.StatusOK {
			t.Fatalf("search after launch: %d", p.status)
		}
		e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'record.search' AND detail LIKE '%"via":"launch"%'`).Scan(&n)
		if n != 0 {
			t.Errorf("searches after a launch audited as launched: %d", n)
		}
		stranger := e.user("stranger@nhs.net")
		cases := map[string]string{
			"replayed":      tok,
			"bad signature": sign(otherKey, good()),
			"wrong audience": func() string {
				c := good()
				c.Audience = []string{"someone-else"}
				return sign(rr.key, c)
			}(),
			"expired":        sign(rr.key, record.NewLaunchClaims(rr.system, rr.cp.Email, recordODS, rr.nhs, "caregate", now.Add(-10*time.Minute), 5*time.Minute)),
			"too long":       sign(rr.key, record.NewLaunchClaims(rr.system, rr.cp.Email, recordODS, rr.nhs, "caregate", now, time.Hour)),
			"unknown user":   sign(rr.key, record.NewLaunchClaims(rr.system, "nobody@nhs.net", recordODS, rr.nhs, "caregate", now, time.Minute)),
			"not a member":   sign(rr.key, record.NewLaunchClaims(rr.system, stranger.Email, recordODS, rr.nhs, "caregate", now, time.Minute)),
			"other org":      sign(rr.key, record.NewLaunchClaims(rr.system, rr.cp.Email, "RX1", rr.nhs, "caregate", now, time.Minute)),
			"unknown system": sign(rr.key, record.NewLaunchClaims("cgl_unknown", rr.cp.Email, recordODS, rr.nhs, "caregate", now, time.Minute)),
			"not a JWT":      "hello",
			"bad NHS number": sign(rr.key, record.NewLaunchClaims(rr.system, rr.cp.Email, recordODS, "9434765918", "caregate", now, time.Minute)),
		}
		for name, tok := range cases {
			p := launch(e.browser(), tok)
			if (p.status != http.StatusUnauthorized && p.status != http.StatusForbidden) || !p.has("#refusal-reason") {
				t.Errorf("%s: %d %q", name, p.status, p.text("main"))
			}
			if ck := p.header.Get("Set-Cookie"); strings.Contains(ck, "caregate_session=") {
				t.Errorf("%s: a session was opened", name)
			}
		}
		e.app.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'record.launch' AND outcome = 'refused'`).Scan(&n)
		if n != len(cases) {
			t.Errorf("refused launches audited: %d, want %d", n, len(cases))
		}
		// A token in the address is refused outright.
		req, _ := http.NewRequest("POST", e.srv.URL+"/launch?launch_token="+url.QueryEscape(sign(rr.key, good())), nil)
		if p := e.browser().do(req); p.status != http.StatusBadRequest {
			t.Errorf("token in URL: %d", p.status)
		}
	})
}

// A member reports that an item looks wrong: the supplier's data-quality
// contact is e-mailed through the outbox, the report is listed for the
// member and for administrators, and an administrator closes it. An
// Administrator-role member cannot report (or see) a clinical item.
func TestRecordDataProblemReport(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		rr := e.recordRegion()
		ctx := context.Background()
		p, _ := authz.Load(ctx, e.app.DB, e.admin)
		if err := e.app.Record.SetContact(ctx, p, rr.org.ID, "data.quality@nhs.net"); err != nil {
			t.Fatal(err)
		}
		cp := e.browser()
		cp.signIn(rr.cp.Email)
		item := "/record/items/" + rr.ids["Condition"] + "/report"
		if pg := cp.get(item); pg.status != http.StatusOK || !strings.Contains(pg.text("#report-item"), "Atrial fibrillation") {
			t.Fatalf("report form: %d", pg.status)
		}
		if pg := cp.post(item, url.Values{"description": {""}}); pg.status != http.StatusBadRequest || !pg.has("#description-error") {
			t.Errorf("empty report: %d", pg.status)
		}
		if pg := cp.post(item, url.Values{"description": {"Never had AF; this belongs to another patient"}}); pg.status != http.StatusSeeOther {
			t.Fatalf("report: %d %s", pg.status, pg.text("main"))
		}
		var to, kind string
		if err := e.app.DB.QueryRow(ctx, `SELECT to_addr, kind FROM outbox WHERE kind = 'record_data_problem'`).Scan(&to, &kind); err != nil {
			t.Fatalf("no e-mail to the supplier: %v", err)
		}
		if to != "data.quality@nhs.net" {
			t.Errorf("report sent to %q", to)
		}
		if pg := cp.get("/record/reports"); !strings.Contains(pg.text("#reports"), "belongs to another patient") {
			t.Errorf("the member does not see their report")
		}
		adm := e.browser()
		adm.signIn(rr.adm.Email)
		if pg := adm.get(item); pg.status != http.StatusForbidden {
			t.Errorf("administrator role opens a clinical item's report form: %d", pg.status)
		}
		if pg := adm.post(item, url.Values{"description": {"x"}}); pg.status != http.StatusForbidden {
			t.Errorf("administrator role reports a clinical item: %d", pg.status)
		}
		boss := e.browser()
		boss.signIn(e.admin.Email)
		pg := boss.get("/record/reports")
		action, ok := pg.doc.Find(`#reports form`).Attr("action")
		if !ok {
			t.Fatalf("no close form for the administrator")
		}
		if pg := boss.post(action, url.Values{"resolution": {"Removed at source by the trust"}}); pg.status != http.StatusSeeOther {
			t.Errorf("close: %d", pg.status)
		}
		if pg := cp.get("/record/reports"); !strings.Contains(pg.text("#reports"), "Closed") {
			t.Errorf("the report is not shown closed: %s", pg.text("#reports"))
		}
		if pg := cp.post(action, url.Values{"resolution": {"x"}}); pg.status != http.StatusForbidden {
			t.Errorf("a member closes a report: %d", pg.status)
		}
	})
}

// A client with keys proves itself with a signed assertion
// (private_key_jwt) instead of a secret; an assertion is usable once.
func TestRecordClientAssertion(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		rr := e.recordRegion()
		ctx := context.Background()
		p, _ := authz.Load(ctx, e.app.DB, e.admin)
		priv, pub, _ := record.NewSigningKey()
		c, secret, err := e.app.Record.CreateClient(ctx, p, record.ClientInput{OrganisationID: rr.org.ID, Name: "Keyed EPR", JWKS: pub})
		if err != nil || secret != "" || !c.HasKeys {
			t.Fatalf("create keyed client: %+v %q %v", c, secret, err)
		}
		assertion, err := record.Sign(priv, record.NewAssertionClaims(c.ID, e.srv.URL+"/oauth2/token", e.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
		for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
			resp, err := http.PostForm(e.srv.URL+"/oauth2/token", form)
			if err != nil {
				t.Fatal(err)
			}
			var tok record.Token
			json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("assertion use %d: %d", i+1, resp.StatusCode)
			}
			if i == 0 {
				if status, body := e.publish(tok.AccessToken, "POST", "/fhir/R4/", patientBundle("k1", "9434765919")); status != http.StatusOK {
					t.Errorf("publish with an assertion's token: %d %s", status, body)
				}
			}
		}
		other, _, _ := record.NewSigningKey()
		forged, _ := record.Sign(other, record.NewAssertionClaims(c.ID, e.srv.URL+"/oauth2/token", e.clock.Now()))
		form.Set("client_assertion", forged)
		if resp, _ := http.PostForm(e.srv.URL+"/oauth2/token", form); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged assertion: %d", resp.StatusCode)
		}
	})
}

// People the gate turns away get a page saying why, for search, view and
// the FHIR API alike.
func TestRecordRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		rr := e.recordRegion()
		ctx := context.Background()
		mk := func(email, status string) *auth.User {
			u := e.user(email)
			if status != "" {
				if _, err := e.app.DB.Exec(ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, activated_at, created_at, updated_at)
					VALUES (?, ?, ?, ?, 'care_professional', ?, 1, 1, 1)`, ident.New(), u.ID, rr.org.ID, strings.Split(email, "@")[0], status); err != nil {
					t.Fatal(err)
				}
			}
			return u
		}
		people := map[string]*auth.User{
			"deactivated":          mk("gone@nhs.net", "deactivated"),
			"record account":       mk("nobody@nhs.net", ""),
			"waiting to be set up": mk("soon@nhs.net", "pending"),
		}
		for want, u := range people {
			b := e.browser()
			b.signIn(u.Email)
			for _, path := range []string{"/record", "/record/patients/" + rr.nhs, "/record/patients/" + rr.nhs + "/problems"} {
				p := b.get(path)
				if p.status != http.StatusForbidden || !strings.Contains(p.text("#refusal-reason"), want) || strings.Contains(p.body, "Okoro") {
					t.Errorf("%s, %s: %d %q", u.Email, path, p.status, p.text("#refusal-reason"))
				}
			}
			if status, body := e.fhirGet(u, "/fhir/R4/Patient/"+rr.ids["Patient"]); status != http.StatusForbidden || strings.Contains(body, "Okoro") {
				t.Errorf("%s, FHIR: %d", u.Email, status)
			}
		}
		// A suspended organisation's members are turned away too.
		if _, err := e.app.DB.Exec(ctx, `UPDATE organisations SET status = 'suspended' WHERE id = ?`, rr.org.ID); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.signIn(rr.adm.Email) // not yet seen by the gate in this process
		if p := b.get("/record"); p.status != http.StatusForbidden || !strings.Contains(p.text("#refusal-reason"), "suspended") {
			t.Errorf("suspended organisation: %d %q", p.status, p.text("#refusal-reason"))
		}
		var n int
		e.app.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE outcome = 'refused' AND action LIKE 'record.%'`).Scan(&n)
		if n < 10 {
			t.Errorf("refusals audited: %d", n)
		}
	})
}
