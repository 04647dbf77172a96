package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Envelope is one message as handed to the mail server.
type Envelope struct {
	ID      string // the outbox id; also the Message-ID, so a resend can be recognised
	To      string
	Subject string
	Text    string
	HTML    string // may be empty
}

// Mailer hands messages to a mail server. Send returns nil only once the
// server has accepted the message.
type Mailer interface {
	Send(ctx context.Context, e Envelope) error
}

// DefaultFrom is the sender when none is configured.
const DefaultFrom = "CareGate <noreply@caregate.invalid>"

// TLS modes of an SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required (default; port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no encryption: only for a relay on the same host or a test server (port 25)
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone
	From     string // sender, e.g. DefaultFrom
	// TLSConfig overrides the TLS settings (for a server with a private
	// certificate authority); nil verifies the server against the system's.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP exchange (default 30 s).
	Timeout time.Duration
}

// ParseSMTPURL reads smtp://[user[:password]@]host[:port][?tls=starttls|tls|none].
// smtps:// means tls=tls. Errors never repeat the URL, which may hold a
// password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, errors.New("the SMTP URL is not a valid URL: use smtp://user:password@host:587?tls=starttls")
	}
	c := SMTPConfig{Host: u.Hostname(), TLS: TLSStartTLS, From: DefaultFrom}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.TLS = TLSImplicit
	default:
		return SMTPConfig{}, fmt.Errorf("the SMTP URL must start with smtp:// or smtps:// (got %q)", u.Scheme)
	}
	if c.Host == "" {
		return SMTPConfig{}, errors.New("the SMTP URL has no host: use smtp://user:password@host:587")
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return SMTPConfig{}, fmt.Errorf("the SMTP URL has an unknown parameter %q (only tls=starttls|tls|none)", k)
		}
	}
	if t := q.Get("tls"); t != "" {
		if t != TLSStartTLS && t != TLSImplicit && t != TLSNone {
			return SMTPConfig{}, fmt.Errorf("the SMTP URL's tls must be starttls, tls or none (got %q)", t)
		}
		c.TLS = t
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, errors.New("the SMTP URL's port must be a number from 1 to 65535")
		}
		c.Port = n
	} else {
		c.Port = map[string]int{TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25}[c.TLS]
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// String describes the server without the password, for logs.
func (c SMTPConfig) String() string {
	who := ""
	if c.Username != "" {
		who = c.Username + ":redacted@"
	}
	return fmt.Sprintf("smtp://%s%s?tls=%s", who, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.TLS)
}

// SMTP delivers over SMTP, one connection per message.
type SMTP struct {
	cfg    SMTPConfig
	domain string // of the sender, for Message-IDs
}

// NewSMTP checks c and returns the mailer.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	if c.From == "" {
		c.From = DefaultFrom
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("the sender address %q is not valid: use a form like %s", c.From, DefaultFrom)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Host == "" || c.Port == 0 {
		return nil, errors.New("the SMTP server needs a host and a port")
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &SMTP{cfg: c, domain: domain}, nil
}

// Send hands e to the server and returns nil once the server has accepted it
// (its reply to the end of the message data).
func (s *SMTP) Send(ctx context.Context, e Envelope) error {
	m := gomail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	if err := m.To(e.To); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	m.Subject(e.Subject)
	m.SetMessageIDWithValue(e.ID + "@" + s.domain)
	m.SetDate()
	// RFC 3834: an automatic message; out-of-office replies should not answer it.
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		// STARTTLS is required: a server that does not offer it is refused
		// rather than sent passwords in the clear.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	tc := s.cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("smtp %s: %w", net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), err)
	}
	return nil
}
