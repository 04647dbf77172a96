// Package notifytest runs a real SMTP server for tests: Mailpit, built from
// the module's tool dependency (go get -tool github.com/axllent/mailpit) and
// started as a subprocess in its own process group, with messages read back
// through its HTTP API. Under CI (CI=true) a Mailpit that cannot start fails
// the test; elsewhere the test is skipped with the reason.
package notifytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure a Mailpit.
type Options struct {
	// SMTPAddr is the SMTP listen address; empty picks a free port.
	SMTPAddr string
	// Username and Password, when set, are the only SMTP credentials
	// accepted (and authentication is required).
	Username, Password string
	// TLSCert and TLSKey (PEM files) enable STARTTLS; RequireTLS refuses
	// clients that do not use it.
	TLSCert, TLSKey string
	RequireTLS      bool
}

// Mailpit is a running Mailpit.
type Mailpit struct {
	SMTPAddr string // host:port of its SMTP server
	APIURL   string // base URL of its HTTP API

	t    testing.TB
	cmd  *exec.Cmd
	mu   sync.Mutex
	done chan struct{}
}

// binary resolves (building once, then from Go's cache) the Mailpit
// executable of the module's tool dependency.
var binary = sync.OnceValues(func() (string, error) {
	cmd := exec.Command("go", "tool", "-n", "mailpit")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n mailpit: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	path := strings.TrimSpace(string(out))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("mailpit binary %s: %v", path, err)
	}
	return path, nil
})

// unavailable fails the test under CI and skips it elsewhere, saying why.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("Mailpit (the test SMTP server) is required under CI: %s", msg)
	}
	t.Skipf("Mailpit (the test SMTP server) cannot start here, so this test is skipped: %s", msg)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs a Mailpit for the test, stopped at cleanup.
func Start(t testing.TB, o Options) *Mailpit {
	t.Helper()
	bin, err := binary()
	if err != nil {
		unavailable(t, "%v", err)
	}
	if o.SMTPAddr == "" {
		o.SMTPAddr = FreeAddr(t)
	}
	httpAddr := FreeAddr(t)
	dir := t.TempDir()
	args := []string{"--smtp", o.SMTPAddr, "--listen", httpAddr, "--disable-version-check", "--quiet",
		"--database", filepath.Join(dir, "mailpit.db")}
	if o.Username != "" {
		auth := filepath.Join(dir, "smtp-auth")
		if err := os.WriteFile(auth, []byte(o.Username+":"+o.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--smtp-auth-file", auth)
		if o.TLSCert == "" {
			args = append(args, "--smtp-auth-allow-insecure")
		}
	}
	if o.TLSCert != "" {
		args = append(args, "--smtp-tls-cert", o.TLSCert, "--smtp-tls-key", o.TLSKey)
		if o.RequireTLS {
			args = append(args, "--smtp-require-starttls")
		}
	}
	cmd := exec.Command(bin, args...)
	// Its own process group, so that cleanup kills it and anything it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		unavailable(t, "start %s: %v", bin, err)
	}
	m := &Mailpit{SMTPAddr: o.SMTPAddr, APIURL: "http://" + httpAddr, t: t, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(m.done) }()
	t.Cleanup(m.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m.ready() {
			return m
		}
		select {
		case <-m.done:
			unavailable(t, "mailpit exited at start: %s", strings.TrimSpace(logs.String()))
		default:
		}
		if time.Now().After(deadline) {
			m.Stop()
			unavailable(t, "not ready after 30 s: %s", strings.TrimSpace(logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *Mailpit) ready() bool {
	c, err := net.DialTimeout("tcp", m.SMTPAddr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	res, err := http.Get(m.APIURL + "/api/v1/messages?limit=1")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// Stop kills Mailpit's process group and waits for it to exit. It may be
// called more than once.
func (m *Mailpit) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.done:
		return
	default:
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.t.Errorf("mailpit (pid %d) did not exit after SIGKILL", m.cmd.Process.Pid)
	}
}

// lockedBuffer collects Mailpit's output, written by exec's copying
// goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SMTPURL is the URL CareGate is configured with to send to this Mailpit.
func (m *Mailpit) SMTPURL() string { return "smtp://" + m.SMTPAddr + "?tls=none" }

// Address is a name and e-mail address in Mailpit's API.
type Address struct {
	Name    string
	Address string
}

// Summary is a message in Mailpit's list.
type Summary struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
	Created   time.Time
}

// Message is one message in full.
type Message struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
	Text      string
	HTML      string
}

func (m *Mailpit) getJSON(path string, v any) {
	m.t.Helper()
	res, err := http.Get(m.APIURL + path)
	if err != nil {
		m.t.Fatalf("mailpit %s: %v", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		m.t.Fatalf("mailpit %s: status %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		m.t.Fatalf("mailpit %s: %v", path, err)
	}
}

// Messages lists every message received, newest first.
func (m *Mailpit) Messages() []Summary {
	m.t.Helper()
	var list struct {
		Messages []Summary `json:"messages"`
	}
	m.getJSON("/api/v1/messages?limit=1000", &list)
	return list.Messages
}

// Message returns one message with its bodies.
func (m *Mailpit) Message(id string) Message {
	m.t.Helper()
	var msg Message
	m.getJSON("/api/v1/message/"+id, &msg)
	return msg
}

// WaitFor waits until at least n messages have arrived and returns them.
func (m *Mailpit) WaitFor(n int, timeout time.Duration) []Summary {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := m.Messages()
		if len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mailpit received %d messages in %s, want %d", len(ms), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
