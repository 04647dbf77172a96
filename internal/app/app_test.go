package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// cheapHash keeps password hashing out of the test timings; the tests are
// about the wiring, not argon2.
var cheapHash = auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}}

// quiet is the log of servers whose log is not under test.
var quiet = slog.New(slog.DiscardHandler)

const (
	testPassword = "copper-Lantern-58-meadow"
	testSecret   = "JBSWY3DPEHPK3PXPTESTTESTTESTTEST" // TOTP secret, base32
)

// eachConfig runs fn on SQLite and, when CAREGATE_TEST_POSTGRES is set (it
// must be under CI), on a fresh PostgreSQL schema.
func eachConfig(t *testing.T, fn func(t *testing.T, cfg app.Config)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, app.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"})
	})
	if base := storetest.PostgresURL(t); base != "" {
		t.Run("postgres", func(t *testing.T) {
			t.Parallel()
			fn(t, app.Config{DatabaseURL: storetest.NewSchema(t, base), Addr: "127.0.0.1:0"})
		})
	}
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start builds an App on cfg and serves it over HTTP.
func start(t *testing.T, cfg app.Config, o app.Options) (*app.App, *httptest.Server) {
	t.Helper()
	if o.Log == nil {
		o.Log = quiet
	}
	if o.Auth.Hash.Time == 0 {
		o.Auth.Hash = cheapHash.Hash
	}
	a, err := app.New(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv
}

// addUser creates an active account with a password and, when secret is not
// empty, TOTP already enabled with that secret (the demo loader's way).
func addUser(t *testing.T, a *app.App, email, secret string, roles ...string) *auth.User {
	t.Helper()
	ctx := context.Background()
	u, err := a.Users.CreateUser(ctx, audit.System, auth.NewUser{Email: email, GivenName: "Test", FamilyName: "Person",
		Roles: roles, Password: testPassword})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	if secret != "" {
		if err := a.DB.InTx(ctx, func(tx *store.Tx) error { return a.Users.EnableTOTPWithSecret(ctx, tx, u.ID, secret) }); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// browser is a client that keeps cookies itself, whatever the port, so that
// one browser can talk to several servers, and never follows redirects.
type browser struct {
	t       *testing.T
	client  *http.Client
	cookies map[string]string
	header  http.Header // sent with every request
}

func newBrowser(t *testing.T) *browser {
	return &browser{t: t, cookies: map[string]string{}, header: http.Header{},
		client: &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is one answer, read whole.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) location() string { return r.header.Get("Location") }

var csrfField = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// csrf returns the CSRF token of the first form on the page.
func (r response) csrf(t *testing.T) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no csrf_token on the page (status %d):\n%.2000s", r.status, r.body)
	}
	return m[1]
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(u string) response {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) response {
	b.t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn goes through the portal's sign-in with a password and a TOTP code,
// the password on server pw and the code on server code, and returns the
// session cookie's value.
func (b *browser) signIn(pw, code, email, secret string) string {
	b.t.Helper()
	t := b.t
	form := b.get(pw + "/signin")
	if form.status != http.StatusOK {
		t.Fatalf("GET /signin = %d", form.status)
	}
	res := b.post(pw+"/signin", url.Values{"csrf_token": {form.csrf(t)}, "email": {email}, "password": {testPassword}, "next": {"/"}})
	if res.status != http.StatusSeeOther || res.location() != "/signin/mfa" {
		t.Fatalf("POST /signin = %d to %q, want 303 to /signin/mfa:\n%.2000s", res.status, res.location(), res.body)
	}
	if b.cookies[httpauth.SessionCookie] == "" {
		t.Fatal("no session cookie after the password")
	}
	mfa := b.get(code + "/signin/mfa")
	if mfa.status != http.StatusOK {
		t.Fatalf("GET /signin/mfa = %d", mfa.status)
	}
	res = b.post(code+"/signin/mfa", url.Values{"csrf_token": {mfa.csrf(t)}, "code": {auth.TOTPCode(secret, time.Now())}})
	if res.status != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("POST /signin/mfa = %d to %q, want 303 to /:\n%.2000s", res.status, res.location(), res.body)
	}
	return b.cookies[httpauth.SessionCookie]
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  app.Config
		want string // in the error; "" for valid
	}{
		{"defaults", app.Config{Addr: "127.0.0.1:8080"}, ""},
		{"any port", app.Config{Addr: ":0"}, ""},
		{"postgres", app.Config{Addr: "127.0.0.1:8080", DatabaseURL: "postgres://u@db/caregate"}, ""},
		{"postgresql", app.Config{Addr: "127.0.0.1:8080", DatabaseURL: "postgresql://u@db/caregate"}, ""},
		{"base URL", app.Config{Addr: "127.0.0.1:8080", BaseURL: "https://caregate.example.nhs.uk"}, ""},
		{"no port", app.Config{Addr: "127.0.0.1"}, "--addr must be HOST:PORT, like 127.0.0.1:8080"},
		{"empty addr", app.Config{}, "--addr must be HOST:PORT"},
		{"words", app.Config{Addr: "localhost port 80"}, "--addr must be HOST:PORT"},
		{"mysql", app.Config{Addr: ":8080", DatabaseURL: "mysql://root:hunter2@db/caregate"}, "--database-url must be a postgres:// URL"},
		{"mysql with a bad port", app.Config{Addr: ":8080", DatabaseURL: "mysql://root:hunter2@db:port/caregate"}, `got a "mysql" URL`},
		{"key=value DSN", app.Config{Addr: ":8080", DatabaseURL: "host=db user=caregate password=hunter2"}, "--database-url must be a postgres:// URL"},
		{"file path", app.Config{Addr: ":8080", DatabaseURL: "/var/lib/caregate.db"}, "leave it out to use SQLite in --data"},
		{"base URL without scheme", app.Config{Addr: ":8080", BaseURL: "caregate.example.nhs.uk"}, "the base URL must be like https://"},
		{"base URL ftp", app.Config{Addr: ":8080", BaseURL: "ftp://caregate.example.nhs.uk"}, "the base URL must be like https://"},
		{"base URL without host", app.Config{Addr: ":8080", BaseURL: "https://"}, "the base URL must be like https://"},
		{"SLA of 3 working days", app.Config{Addr: ":8080", SLAWorkingDays: 3}, ""},
		{"negative SLA", app.Config{Addr: ":8080", SLAWorkingDays: -1}, "the SLA must be between 1 and 60 working days"},
		{"SLA of a year", app.Config{Addr: ":8080", SLAWorkingDays: 250}, "the SLA must be between 1 and 60 working days"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the message shows the database password: %v", err)
			}
		})
	}
	// New refuses a bad configuration before touching any database.
	dir := t.TempDir()
	if _, err := app.New(context.Background(), app.Config{DataDir: dir, Addr: "nonsense"}, app.Options{}); err == nil ||
		!strings.Contains(err.Error(), "--addr") {
		t.Fatalf("New with a bad address: %v", err)
	}
}

// The SLA period is configuration: it reaches the access service, and from
// the environment when the flag is not given.
func TestSLAPeriodIsConfiguration(t *testing.T) {
	t.Setenv("CAREGATE_SLA_WORKING_DAYS", "3")
	cfg := app.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"}
	cfg.FromEnv()
	a, err := app.New(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.Access.Config().SLAWorkingDays; got != 3 {
		t.Fatalf("SLA of %d working days, want 3 from CAREGATE_SLA_WORKING_DAYS", got)
	}
}

func TestDescribeHidesPassword(t *testing.T) {
	c := app.Config{DatabaseURL: "postgres://caregate:hunter2@db.internal:5432/caregate"}
	if d := c.Describe(); strings.Contains(d, "hunter2") || !strings.Contains(d, "db.internal") {
		t.Fatalf("Describe = %q", d)
	}
	c = app.Config{DataDir: "/srv/caregate"}
	if d := c.Describe(); d != "SQLite in /srv/caregate" {
		t.Fatalf("Describe = %q", d)
	}
}
