package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/caregate/caregate/internal/fhirapi"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/web"
)

// contentSecurityPolicy allows only our own scripts and styles (no inline
// code), QR codes as data: images, and the NHS web font.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self' https://assets.nhs.uk; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
	"base-uri 'none'; object-src 'none'"

// reqInfo travels in the context so that the outer middleware learns the
// route pattern the mux matched (the request it sees is a different copy).
type reqInfo struct{ pattern string }

type reqInfoKey struct{}

func (a *App) routes(assets *web.Assets) http.Handler {
	mux := http.NewServeMux()
	assets.Register(mux)
	a.Web.Register(mux)
	a.API.Register(mux)
	fhirapi.New(a.Record, a.Log, a.Config.BaseURL).Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := a.DB.W.PingContext(ctx); err != nil {
			a.Log.Warn("not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database unavailable")
			return
		}
		fmt.Fprintln(w, "ready")
	})

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caregate_http_requests_total",
		Help: "HTTP requests by route pattern and status code."}, []string{"route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "caregate_http_request_duration_seconds",
		Help: "HTTP request duration by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	// Read from the database at each scrape, so every instance reports the
	// same region-wide figure.
	overdue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "caregate_access_requests_overdue",
		Help: "Open access requests past their SLA."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := a.Access.OverdueCount(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	// Group commit at work: events per commit is their ratio.
	groups := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "caregate_audit_group_commits_total",
		Help: "Commits of the audit log's group-commit writer in this process."}, func() float64 { g, _ := a.Audit.Stats(); return float64(g) })
	grouped := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "caregate_audit_grouped_events_total",
		Help: "Audit events committed by the group-commit writer in this process."}, func() float64 { _, e := a.Audit.Stats(); return float64(e) })
	a.Metrics.MustRegister(requests, duration, overdue, groups, grouped, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		// Metrics are for the monitoring system on the host or an administrator.
		if !isLoopback(r.RemoteAddr) && !httpauth.From(r.Context()).Principal.IsAdmin() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		metrics.ServeHTTP(w, r)
	})

	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
			ri.pattern = r.Pattern
		}
	})
	var h http.Handler = a.Auth.Identify(inner)
	h = a.securityHeaders(h)
	h = a.recoverPanics(h)
	return a.observe(h, requests, duration)
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// statusWriter records the status code for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe gives every request an ID, then logs and counts it. The log names
// the route pattern, never the path: paths such as /setup/{token} carry
// secrets, and query strings may carry personal data.
func (a *App) observe(next http.Handler, requests *prometheus.CounterVec, duration *prometheus.HistogramVec) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !a.Config.TrustProxy || !requestIDPattern.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		ri := &reqInfo{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri)))
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		route := ri.pattern
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		duration.WithLabelValues(route).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if sw.code >= 500 {
			level = slog.LevelError
		}
		a.Log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "route", route, "status", sw.code,
			"bytes", sw.bytes, "ms", float64(elapsed.Microseconds())/1000, "ip", a.Auth.ClientIP(r))
	})
}

func (a *App) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.Log.Error("panic", "request_id", w.Header().Get("X-Request-Id"), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "Sorry, there is a problem with the service. Reference: "+w.Header().Get("X-Request-Id"), http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (a *App) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// Pages hold personal data: no shared or back-button caching unless a
		// handler (static files) says otherwise.
		h.Set("Cache-Control", "no-store")
		if a.Auth.IsTLS(r) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}
