package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/api"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// TestOpenAPI checks that the served document and the registered routes are
// the same set, that every route the table lists is what the mux serves, and
// that the document is internally consistent.
func TestOpenAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		checkOpenAPI(t, newStack(t, db, stackOpts{demo: true}), true)
	})
}

var pathParams = regexp.MustCompile(`\{(\w+)\}`)

func checkOpenAPI(t *testing.T, s *stack, demo bool) {
	t.Helper()
	r := s.do(t, "GET", "/api/v1/openapi.json", nil, tokenMode, "")
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	doc := r.json
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)

	// Every route is documented, with what a client needs, and the mux
	// serves it under exactly the pattern the table gives.
	want := map[string]bool{}
	mux := http.NewServeMux()
	s.h.Register(mux)
	for _, rt := range s.h.Routes() {
		key := strings.ToLower(rt.Method) + " " + rt.Path
		want[key] = true
		path := pathParams.ReplaceAllString(rt.Path, "x1")
		if _, pat := mux.Handler(httptest.NewRequest(rt.Method, path, nil)); pat != rt.Method+" "+rt.Path {
			t.Errorf("%s: the mux serves %s with pattern %q", key, path, pat)
		}
		op, ok := dig(doc, "paths", rt.Path, strings.ToLower(rt.Method))
		if !ok {
			t.Errorf("route %s %s is not in the OpenAPI document", rt.Method, rt.Path)
			continue
		}
		o := op.(map[string]any)
		if o["summary"] != rt.Summary || o["summary"] == "" {
			t.Errorf("%s: summary %q, want %q", key, o["summary"], rt.Summary)
		}
		if _, ok := dig(o, "responses", "default"); !ok {
			t.Errorf("%s: no default (problem) response", key)
		}
		if rt.Method == "POST" || rt.Method == "PATCH" || rt.Method == "PUT" {
			_, hasBody := dig(o, "requestBody", "content", "application/json", "schema")
			if hasBody != (rt.Request != nil) {
				t.Errorf("%s: request body documented %v, route takes one %v", key, hasBody, rt.Request != nil)
			}
		}
		sec, _ := o["security"].([]any)
		if public := rt.Roles == "public"; public != (len(sec) == 0) {
			t.Errorf("%s: security %v for roles %q", key, sec, rt.Roles)
		}
		for _, m := range pathParams.FindAllStringSubmatch(rt.Path, -1) {
			if !strings.Contains(string(mustJSON(t, o["parameters"])), `"name":"`+m[1]+`"`) {
				t.Errorf("%s: path parameter %s not documented", key, m[1])
			}
		}
	}
	// Nothing is documented that is not served.
	for p, ops := range paths {
		for m := range ops.(map[string]any) {
			if !want[m+" "+p] {
				t.Errorf("documented %s %s is not a route", m, p)
			}
		}
	}
	if _, ok := paths["/api/v1/demo/clock"]; ok != demo {
		t.Errorf("demo=%v: /demo/clock documented %v", demo, ok)
	}

	// Every $ref resolves.
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(mustJSON(t, doc)), -1) {
		if _, ok := dig(doc, "components", m[1], m[2]); !ok {
			t.Errorf("unresolved $ref %s/%s", m[1], m[2])
		}
	}

	// Request schemas are strict, as the decoder is; responses say what is
	// always there.
	checkJSON(t, &resp{json: doc}, map[string]any{
		"components.schemas.OrganisationInput.additionalProperties":     false,
		"components.schemas.OrganisationInput.properties.ods_code.type": "string",
		"components.schemas.Organisation.required":                      contains{"id"},
		"components.schemas.Organisation.properties.created_at.format":  "date-time",
		"components.schemas.APIToken.properties.revoked_at.anyOf":       length{2},
		"components.schemas.Problem.properties.errors.type":             "array",
		"components.securitySchemes.bearer.scheme":                      "bearer",
		"info.version": "test",
	}, "openapi")
	for _, c := range []struct {
		keys []string
		want any
	}{
		{[]string{"paths", "/api/v1/organisations", "get", "responses", "200", "content", "application/json", "schema", "properties", "items", "items", "$ref"}, "#/components/schemas/Organisation"},
		{[]string{"paths", "/api/v1/organisations", "post", "responses", "201", "headers", "Location", "description"}, nil},
		{[]string{"paths", "/api/v1/organisations/{id}", "patch", "requestBody", "content", "application/merge-patch+json"}, nil},
		{[]string{"paths", "/api/v1/audit-events.csv", "get", "responses", "200", "content", "text/csv"}, nil},
		{[]string{"paths", "/api/v1/openapi.json", "get", "security"}, nil},
		{[]string{"paths", "/api/v1/tokens", "post", "requestBody", "required"}, false},
	} {
		got, ok := dig(doc, c.keys...)
		if !ok || (c.want != nil && got != c.want) {
			t.Errorf("openapi %s = %v, want %v", strings.Join(c.keys, " → "), got, c.want)
		}
	}
	params, _ := dig(doc, "paths", "/api/v1/audit-events", "get", "parameters")
	if p, _ := params.([]any); len(p) != 8 {
		t.Errorf("audit search documents %d parameters, want 8", len(p))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRouteTableComplete guards the table against two rows for one pattern
// (which would panic in Register) and against rows missing what the
// document needs.
func TestRouteTableComplete(t *testing.T) {
	h := api.New(api.Deps{})
	seen := map[string]bool{}
	for _, rt := range h.Routes() {
		p := rt.Method + " " + rt.Path
		if seen[p] {
			t.Errorf("duplicate route %s", p)
		}
		seen[p] = true
		if !strings.HasPrefix(rt.Path, api.Prefix+"/") || rt.Summary == "" || rt.Roles == "" || rt.Status == 0 {
			t.Errorf("route %s is incomplete: %+v", p, rt)
		}
	}
}
