package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/caregate/caregate/internal/httpauth"
)

// The OpenAPI document is generated from the route table and the Go types of
// the request and response bodies, so it describes exactly what is served.

// listOf[T] stands, in the route table, for a list response {"items": [T…]}.
type listOf[T any] struct{}

func (listOf[T]) itemType() reflect.Type { return reflect.TypeFor[T]() }

type itemTyper interface{ itemType() reflect.Type }

func (h *Handler) getOpenAPI(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300") // the same for everyone
	w.Write(h.openapi)
	return nil
}

func marshalDocument(doc map[string]any) ([]byte, error) {
	return json.MarshalIndent(doc, "", "  ")
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func (h *Handler) document() map[string]any {
	g := &schemas{defs: map[string]any{}, types: map[string]reflect.Type{}}
	paths := map[string]any{}
	for _, rt := range h.routes {
		ops, _ := paths[rt.Path].(map[string]any)
		if ops == nil {
			ops = map[string]any{}
			paths[rt.Path] = ops
		}
		ops[strings.ToLower(rt.Method)] = g.operation(rt)
	}
	g.defs["Problem"] = problemSchema
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "CareGate API",
			"version": h.version,
			"description": "JSON API of CareGate, the access lifecycle of the shared care record. " +
				"Authenticate with an API token (Authorization: Bearer cgt_…), created in the portal under Account. " +
				"Portal sessions work too; they must send the csrf_token from GET /api/v1/me as X-CSRF-Token on every change. " +
				"Times are RFC 3339 in UTC; identifiers are opaque strings; errors are application/problem+json (RFC 9457).",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "cgt_ API token"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": httpauth.SessionCookie,
					"description": "Portal session; changes also need the X-CSRF-Token header."},
			},
			"responses": map[string]any{
				"Problem": map[string]any{"description": "Error",
					"content": map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}},
			},
		},
	}
}

var problemSchema = map[string]any{
	"type":     "object",
	"required": []string{"type", "title", "status", "code"},
	"properties": map[string]any{
		"type":       map[string]any{"type": "string"},
		"title":      map[string]any{"type": "string"},
		"status":     map[string]any{"type": "integer"},
		"detail":     map[string]any{"type": "string", "description": "What went wrong, safe to show to a person"},
		"code":       map[string]any{"type": "string", "description": "invalid, not_found, conflict, forbidden, unauthenticated, too_many, internal, too_large, unsupported_media_type, method_not_allowed"},
		"request_id": map[string]any{"type": "string", "description": "For internal errors: quote it to the service desk"},
		"errors": map[string]any{"type": "array", "items": map[string]any{
			"type": "object", "required": []string{"field", "message"},
			"properties": map[string]any{"field": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
		}},
	},
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func (g *schemas) operation(rt Route) map[string]any {
	rel := strings.TrimPrefix(rt.Path, Prefix+"/")
	op := map[string]any{
		"operationId": strings.ToLower(rt.Method) + "_" + strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return '_'
		}, strings.NewReplacer("{", "", "}", "").Replace(rel)),
		"summary":     rt.Summary,
		"description": "Who may call: " + rt.Roles + ".",
		"tags":        []string{strings.SplitN(strings.TrimSuffix(rel, ".json"), "/", 2)[0]},
	}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.Query {
		s := map[string]any{"type": "string"}
		if q.Format == "int32" || q.Format == "int64" {
			s = map[string]any{"type": "integer"}
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": s})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.Request != nil {
		s := g.schema(reflect.TypeOf(rt.Request), false)
		content := map[string]any{"application/json": map[string]any{"schema": s}}
		if rt.Method == http.MethodPatch {
			content["application/merge-patch+json"] = map[string]any{"schema": s}
		}
		op["requestBody"] = map[string]any{"required": !rt.bodyOptional, "content": content}
	}
	ok := map[string]any{"description": http.StatusText(rt.Status)}
	switch {
	case rt.Produces != "":
		ok["content"] = map[string]any{rt.Produces: map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.Response != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Response), true)}}
	case rt.Path == Prefix+"/openapi.json":
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
	}
	if rt.Status == http.StatusCreated {
		ok["headers"] = map[string]any{"Location": map[string]any{"description": "Address of the new resource", "schema": map[string]any{"type": "string"}}}
	}
	problem := map[string]any{"$ref": "#/components/responses/Problem"}
	responses := map[string]any{strconv.Itoa(rt.Status): ok, "default": problem}
	if rt.access == public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
		responses["401"], responses["403"] = problem, problem
	}
	if strings.Contains(rt.Path, "{") {
		responses["404"] = problem
	}
	if rt.Request != nil || rt.Query != nil {
		responses["400"] = problem
	}
	if rt.Request != nil {
		responses["413"], responses["415"] = problem, problem
	}
	op["responses"] = responses
	return op
}

// schemas builds JSON Schemas (2020-12, as OpenAPI 3.1 uses) from Go types,
// following encoding/json's rules for field names. Named struct types become
// components. Response schemas list their always-present fields as required;
// request schemas refuse unknown properties, as the decoder does.
type schemas struct {
	defs  map[string]any
	types map[string]reflect.Type
}

var timeType = reflect.TypeFor[time.Time]()

func (g *schemas) schema(t reflect.Type, output bool) map[string]any {
	if it, ok := reflect.Zero(t).Interface().(itemTyper); ok {
		return map[string]any{
			"type":     "object",
			"required": []string{"items"},
			"properties": map[string]any{
				"items":       map[string]any{"type": "array", "items": g.schema(it.itemType(), output)},
				"next_cursor": map[string]any{"type": "string", "description": "Present when there are more: pass it as cursor"},
			},
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.schema(t.Elem(), output)
		if !output || (t.Elem().Kind() == reflect.Struct && t.Elem() != timeType) {
			// In a request, a field left out (or null) leaves the value
			// unchanged; in a response, a pointer to an object is a
			// reference to it, never null.
			return s
		}
		// *time.Time and pointers to scalars are how "not set" is said.
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), output)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), output)}
	case reflect.Struct:
		if t == timeType {
			return map[string]any{"type": "string", "format": "date-time"}
		}
		if t.Name() == "" {
			return g.object(t, output)
		}
		name := componentName(t)
		if prev, ok := g.types[name]; ok && prev != t {
			name = componentName(t) + "_" + strings.ReplaceAll(t.PkgPath(), "/", "_")
		}
		if _, done := g.types[name]; !done {
			g.types[name] = t
			g.defs[name] = map[string]any{} // placeholder against recursion
			g.defs[name] = g.object(t, output)
		}
		return ref(name)
	}
	return map[string]any{}
}

func (g *schemas) object(t reflect.Type, output bool) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if et := f.Type; f.Anonymous && name == "" {
			// An embedded struct's fields are the outer object's, as
			// encoding/json marshals them.
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				inner := g.object(et, output)
				maps.Copy(props, inner["properties"].(map[string]any))
				if req, ok := inner["required"].([]string); ok {
					required = append(required, req...)
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type, output)
		if output && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if output && required != nil {
		s["required"] = required
	}
	if !output {
		s["additionalProperties"] = false
	}
	return s
}

// componentName names a schema after its Go type, capitalised (unexported
// API types such as "createdUser" become "CreatedUser").
func componentName(t reflect.Type) string {
	n := t.Name()
	if n == "" {
		return "Object"
	}
	r := []rune(n)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
