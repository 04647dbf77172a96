package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// addRecordRows adds the record's administration routes to the matrix.
func addRecordRows(m map[string]access) {
	org1 := func(path, body string) func(t *testing.T, s *stack, c *caller) (string, string) {
		return func(t *testing.T, s *stack, c *caller) (string, string) {
			return path, strings.ReplaceAll(strings.ReplaceAll(body, "{org1}", s.org1.ID), "{n}", fmt.Sprint(s.next()))
		}
	}
	_, jwks, _ := record.NewSigningKey()
	m["GET /api/v1/record/clients"] = access{allowed: adminOnly, path: "/api/v1/record/clients"}
	m["POST /api/v1/record/clients"] = access{allowed: adminOnly, prep: org1("/api/v1/record/clients", `{"organisation_id":"{org1}","name":"EPR {n}"}`)}
	m["POST /api/v1/record/clients/{id}/revoke"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			cl, _, err := s.record.CreateClient(context.Background(), s.adminP, record.ClientInput{OrganisationID: s.org1.ID, Name: "to revoke"})
			if err != nil {
				t.Fatal(err)
			}
			return "/api/v1/record/clients/" + cl.ID + "/revoke", ""
		}}
	m["GET /api/v1/record/clinical-systems"] = access{allowed: adminOnly, path: "/api/v1/record/clinical-systems"}
	m["POST /api/v1/record/clinical-systems"] = access{allowed: adminOnly,
		prep: org1("/api/v1/record/clinical-systems", `{"organisation_id":"{org1}","name":"Ward EPR {n}","jwks":`+string(jwks)+`}`)}
	m["POST /api/v1/record/contacts"] = access{allowed: adminOnly, prep: org1("/api/v1/record/contacts", `{"organisation_id":"{org1}","email":"dq{n}@nhs.net"}`)}
	m["GET /api/v1/record/reports"] = access{allowed: signedIn, path: "/api/v1/record/reports"}
	m["POST /api/v1/record/reports/{id}/close"] = access{allowed: adminOnly,
		prep: func(t *testing.T, s *stack, c *caller) (string, string) {
			return "/api/v1/record/reports/" + openReport(t, s) + "/close", `{"resolution":"Corrected at source"}`
		}}
}

// openReport stores a patient and an open data-problem report about them.
func openReport(t *testing.T, s *stack) string {
	t.Helper()
	ctx := context.Background()
	n := s.next()
	nine := fmt.Sprintf("999%06d", 100+n)
	d := record.NHSCheckDigit(nine)
	for d < 0 {
		n++
		nine = fmt.Sprintf("999%06d", 100+n)
		d = record.NHSCheckDigit(nine)
	}
	pid := fmt.Sprintf("p%d", n)
	body := fmt.Sprintf(`{"resourceType":"Patient","id":"%s","identifier":[{"system":"%s","value":"%s%d"}],"name":[{"family":"Reported"}]}`,
		pid, record.NHSNumberSystem, nine, d)
	out, err := s.record.Ingest(ctx, &record.Publisher{ClientID: "test", OrganisationID: s.org1.ID, ODS: "RR8"}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	id := ident.New()
	if _, err := s.db.Exec(ctx, `INSERT INTO record_reports (id, resource_id, organisation_id, nhs_number, reporter_id, description, status, created_at)
		VALUES (?, ?, ?, ?, ?, 'Wrong name', 'open', 1)`, id, out[0].ID, s.org1.ID, nine, s.as[member].user.ID); err != nil {
		t.Fatal(err)
	}
	return id
}

// Registering a publishing client returns its secret once and never again;
// a JWKS that holds a private key is refused.
func TestRecordClientsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newStack(t, db, stackOpts{})
		adm := s.as[admin]
		r := s.do(t, "POST", "/api/v1/record/clients", adm, tokenMode, `{"organisation_id":"`+s.org1.ID+`","name":"Trust EPR"}`)
		secret, _ := r.json["client_secret"].(string)
		if r.status != http.StatusCreated || !strings.HasPrefix(secret, "cgs_") {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		r = s.do(t, "GET", "/api/v1/record/clients", adm, tokenMode, "")
		if r.status != http.StatusOK || strings.Contains(string(r.body), secret) || !strings.Contains(string(r.body), `"has_secret":true`) {
			t.Errorf("list: %d %s", r.status, r.body)
		}
		priv, _, _ := record.NewSigningKey()
		r = s.do(t, "POST", "/api/v1/record/clinical-systems", adm, tokenMode,
			`{"organisation_id":"`+s.org1.ID+`","name":"EPR","jwks":{"keys":[`+string(priv)+`]}}`)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "public key") {
			t.Errorf("private key accepted: %d %s", r.status, r.body)
		}
	})
}
