package app_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/app"
)

var generatedRequestID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestSecurityHeaders(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg app.Config) {
		_, direct := start(t, cfg, app.Options{})
		proxied := cfg
		proxied.TrustProxy = true
		_, behindLB := start(t, proxied, app.Options{})

		paths := []struct {
			path   string
			status int
			ctype  string
		}{
			{"/", http.StatusOK, "text/html"},
			{"/signin", http.StatusOK, "text/html"},
			{"/no/such/page", http.StatusNotFound, "text/html"},
			{"/api/v1/me", http.StatusUnauthorized, "application/problem+json"},
			{"/api/v1/openapi.json", http.StatusOK, "application/json"},
			{"/healthz", http.StatusOK, "text/plain"},
		}
		for _, srv := range []*httptest.Server{direct, behindLB} {
			for _, p := range paths {
				b := newBrowser(t)
				res := b.get(srv.URL + p.path)
				if res.status != p.status || !strings.HasPrefix(res.header.Get("Content-Type"), p.ctype) {
					t.Errorf("GET %s = %d %q, want %d %s", p.path, res.status, res.header.Get("Content-Type"), p.status, p.ctype)
				}
				h := res.header
				for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "script-src 'self';"} {
					if !strings.Contains(h.Get("Content-Security-Policy"), want) {
						t.Errorf("GET %s: CSP %q lacks %q", p.path, h.Get("Content-Security-Policy"), want)
					}
				}
				if strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
					t.Errorf("GET %s: CSP allows inline code", p.path)
				}
				checks := map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
					"Referrer-Policy": "same-origin"}
				if p.path == "/api/v1/openapi.json" {
					delete(checks, "Cache-Control") // public and the same for everyone: cacheable
				}
				for k, v := range checks {
					if h.Get(k) != v {
						t.Errorf("GET %s: %s = %q, want %q", p.path, k, h.Get(k), v)
					}
				}
				if !generatedRequestID.MatchString(h.Get("X-Request-Id")) {
					t.Errorf("GET %s: X-Request-Id = %q", p.path, h.Get("X-Request-Id"))
				}
				if hsts := h.Get("Strict-Transport-Security"); hsts != "" {
					t.Errorf("GET %s over plain HTTP sent HSTS %q", p.path, hsts)
				}
			}
		}

		// HSTS only when a trusted proxy says the client used TLS.
		hsts := func(srv *httptest.Server, proto string) string {
			b := newBrowser(t)
			b.header.Set("X-Forwarded-Proto", proto)
			return b.get(srv.URL + "/signin").header.Get("Strict-Transport-Security")
		}
		if got := hsts(behindLB, "https"); !strings.Contains(got, "max-age=") || !strings.Contains(got, "includeSubDomains") {
			t.Errorf("behind a trusted proxy over https: HSTS %q", got)
		}
		if got := hsts(behindLB, "http"); got != "" {
			t.Errorf("behind a trusted proxy over http: HSTS %q", got)
		}
		if got := hsts(direct, "https"); got != "" {
			t.Errorf("X-Forwarded-Proto from an untrusted client set HSTS %q", got)
		}

		// A load balancer's request ID is kept only when the proxy is trusted
		// and the ID is well formed.
		reqID := func(srv *httptest.Server, id string) string {
			b := newBrowser(t)
			b.header.Set("X-Request-Id", id)
			return b.get(srv.URL + "/healthz").header.Get("X-Request-Id")
		}
		if got := reqID(behindLB, "lb-7f3a9c01-trace"); got != "lb-7f3a9c01-trace" {
			t.Errorf("trusted proxy's request ID replaced by %q", got)
		}
		if got := reqID(behindLB, "bad id <script>"); !generatedRequestID.MatchString(got) {
			t.Errorf("malformed request ID kept: %q", got)
		}
		if got := reqID(direct, "lb-7f3a9c01-trace"); !generatedRequestID.MatchString(got) {
			t.Errorf("untrusted client's request ID kept: %q", got)
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg app.Config) {
		a, srv := start(t, cfg, app.Options{})
		b := newBrowser(t)
		if res := b.get(srv.URL + "/healthz"); res.status != http.StatusOK || strings.TrimSpace(res.body) != "ok" {
			t.Errorf("/healthz = %d %q", res.status, res.body)
		}
		if res := b.get(srv.URL + "/readyz"); res.status != http.StatusOK || strings.TrimSpace(res.body) != "ready" {
			t.Errorf("/readyz = %d %q", res.status, res.body)
		}

		res := b.get(srv.URL + "/no/such/page")
		if res.status != http.StatusNotFound || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") ||
			!strings.Contains(res.body, "<html") || !strings.Contains(res.body, "Page not found") {
			t.Errorf("404 page: %d %q\n%.500s", res.status, res.header.Get("Content-Type"), res.body)
		}

		// Metrics for the host's monitoring: loopback only (or an admin).
		res = b.get(srv.URL + "/metrics")
		if res.status != http.StatusOK {
			t.Fatalf("/metrics from loopback = %d", res.status)
		}
		for _, want := range []string{
			"caregate_http_requests_total",
			`caregate_http_requests_total{code="200",route="GET /healthz"} 1`,
			`caregate_http_requests_total{code="404",route="/"} 1`,
			"caregate_http_request_duration_seconds_bucket",
			"caregate_access_requests_overdue 0",
			"caregate_audit_group_commits_total",
			"caregate_audit_grouped_events_total",
			"go_goroutines",
		} {
			if !strings.Contains(res.body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(res.body, "/no/such/page") {
			t.Error("/metrics labels a request by its path rather than its route")
		}
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = "192.0.2.10:40000"
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("/metrics from another host = %d, want 403", rec.Code)
		}

		// /readyz checks the database; /healthz only that we serve.
		a.DB.W.Close()
		a.DB.R.Close()
		if res := b.get(srv.URL + "/readyz"); res.status != http.StatusServiceUnavailable {
			t.Errorf("/readyz with the database closed = %d, want 503", res.status)
		}
		if res := b.get(srv.URL + "/healthz"); res.status != http.StatusOK {
			t.Errorf("/healthz with the database closed = %d, want 200", res.status)
		}
	})
}
