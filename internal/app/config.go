package app

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// Config is the whole configuration of one caregate process.
type Config struct {
	DataDir     string // SQLite data directory (default ./caregate-data)
	DatabaseURL string // postgres://… selects PostgreSQL
	Addr        string // listen address (default 127.0.0.1:8080)
	Demo        bool   // load the demo region and allow moving the clock
	// BaseURL is the public address of the service, used in links sent to
	// people. Empty: the address each request came in on.
	BaseURL string
	// TrustProxy: the server is behind a load balancer that sets
	// X-Forwarded-For and X-Forwarded-Proto.
	TrustProxy bool
	// SecureCookies forces the Secure flag on cookies (always set under TLS).
	SecureCookies bool
	// ServiceName is the shared care record's name, used in request titles
	// and e-mails (default "Shared Care Record"; CAREGATE_SERVICE_NAME).
	ServiceName string
	// SLAWorkingDays is how many working days the back office has to action
	// a validated request (default 5; CAREGATE_SLA_WORKING_DAYS).
	SLAWorkingDays int
	// SMTPURL names the mail server, smtp://user:password@host:587?tls=starttls
	// (tls=starttls|tls|none; CAREGATE_SMTP_URL). Empty: messages are kept in
	// the outbox, where administrators read them in the portal.
	SMTPURL string
	// MailFrom is the sender of every message (default notify.DefaultFrom;
	// CAREGATE_MAIL_FROM).
	MailFrom string
	// Lifecycle holds the automatic rules' numbers (inactivity, warnings,
	// finishing-date reminders; see lifecycle.Config.FromEnv).
	Lifecycle lifecycle.Config
}

// FromEnv fills unset fields from the environment and defaults.
func (c *Config) FromEnv() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = os.Getenv("CAREGATE_DATABASE_URL")
	}
	if c.DataDir == "" {
		c.DataDir = os.Getenv("CAREGATE_DATA")
	}
	if c.DataDir == "" {
		c.DataDir = "./caregate-data"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.BaseURL == "" {
		c.BaseURL = os.Getenv("CAREGATE_BASE_URL")
	}
	if c.ServiceName == "" {
		c.ServiceName = os.Getenv("CAREGATE_SERVICE_NAME")
	}
	if c.SLAWorkingDays == 0 {
		if n, err := strconv.Atoi(os.Getenv("CAREGATE_SLA_WORKING_DAYS")); err == nil {
			c.SLAWorkingDays = n
		}
	}
	if c.SMTPURL == "" {
		c.SMTPURL = os.Getenv("CAREGATE_SMTP_URL")
	}
	if c.MailFrom == "" {
		c.MailFrom = os.Getenv("CAREGATE_MAIL_FROM")
	}
	c.Lifecycle.FromEnv()
	if os.Getenv("CAREGATE_TRUST_PROXY") == "1" {
		c.TrustProxy = true
	}
}

// Validate checks the configuration and says what is wrong in words an
// operator can act on.
func (c *Config) Validate() error {
	if c.SLAWorkingDays < 0 || c.SLAWorkingDays > 60 {
		return fmt.Errorf("the SLA must be between 1 and 60 working days (got %d)", c.SLAWorkingDays)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		// Name only the scheme: a value that is not a URL (a key=value DSN, a
		// bad port) cannot be redacted and may hold a password.
		got := "a value that is not a URL"
		if scheme, _, ok := strings.Cut(c.DatabaseURL, "://"); ok && !strings.ContainsAny(scheme, "@:/ ") {
			got = fmt.Sprintf("a %q URL", scheme)
		}
		return fmt.Errorf("--database-url must be a postgres:// URL (got %s); leave it out to use SQLite in --data", got)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr must be HOST:PORT, like 127.0.0.1:8080 (got %q)", c.Addr)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("the base URL must be like https://caregate.example.nhs.uk (got %q)", c.BaseURL)
		}
	}
	if _, err := c.Mailer(); err != nil {
		return err
	}
	if err := c.Lifecycle.Validate(); err != nil {
		return err
	}
	return nil
}

// Mailer returns the SMTP mailer the configuration names, or nil when no
// SMTP server is configured. Its errors never repeat the password.
func (c *Config) Mailer() (notify.Mailer, error) {
	if c.SMTPURL == "" {
		if c.MailFrom != "" {
			if _, err := mail.ParseAddress(c.MailFrom); err != nil {
				return nil, fmt.Errorf("--mail-from must be an address like %q (got %q)", notify.DefaultFrom, c.MailFrom)
			}
		}
		return nil, nil
	}
	sc, err := notify.ParseSMTPURL(c.SMTPURL)
	if err != nil {
		return nil, fmt.Errorf("--smtp-url: %w", err)
	}
	if c.MailFrom != "" {
		sc.From = c.MailFrom
	}
	m, err := notify.NewSMTP(sc)
	if err != nil {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	return m, nil
}

// DescribeMail says where messages go, without secrets, for logs.
func (c *Config) DescribeMail() string {
	if c.SMTPURL == "" {
		return "no SMTP server: messages are kept in the outbox (Administration, Outbox)"
	}
	sc, err := notify.ParseSMTPURL(c.SMTPURL)
	if err != nil {
		return "an SMTP server (URL not valid)"
	}
	return "SMTP " + sc.String()
}

// StoreOptions selects the database.
func (c *Config) StoreOptions() store.Options {
	return store.Options{URL: c.DatabaseURL, DataDir: c.DataDir}
}

// Describe names the database in use, without secrets, for logs.
func (c *Config) Describe() string {
	if c.DatabaseURL != "" {
		return "PostgreSQL " + store.Redact(c.DatabaseURL)
	}
	return "SQLite in " + c.DataDir
}
