package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/demo"
)

// The serve tests run the real binary, built once per test run.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

// binary returns the path of a freshly built caregate binary.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binError = os.MkdirTemp("", "caregate-bin-")
		if binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "caregate")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// lockedBuffer collects a child process's output while it runs.
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

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// server is a running `caregate serve` process.
type server struct {
	t              *testing.T
	cmd            *exec.Cmd
	base           string
	stdout, stderr *lockedBuffer
	done           chan error
}

// startServer runs `caregate serve` with args and waits until /healthz
// answers 200.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{t: t, base: "http://" + addr, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binary(t), append([]string{"serve", "--addr", addr}, args...)...)
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-s.done:
			t.Fatalf("caregate serve exited before serving (%v)\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
		default:
		}
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer 200 within 20 s (last: %v)\nstderr:\n%s", err, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanEnv is this process's environment without CareGate's settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAREGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// get fetches a path and returns the status and body.
func (s *server) get(path string) (int, string) {
	s.t.Helper()
	res, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// stop sends SIGTERM and expects a clean exit within 20 s.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("caregate serve after SIGTERM: %v\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("caregate serve did not stop within 20 s of SIGTERM\nstderr:\n%s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "shutting down") {
		s.t.Errorf("no shutdown message in the log:\n%s", s.stderr)
	}
}

func TestServeDemo(t *testing.T) {
	eachEngine(t, func(t *testing.T, cfg app.Config) {
		var events []string
		var counts [][2]int
		for run := 1; run <= 2; run++ {
			s := startServer(t, append([]string{"--demo"}, dbFlags(cfg)...)...)
			out := s.stdout.String()
			if !strings.Contains(out, "is running at "+s.base+"/") {
				t.Fatalf("run %d: the URL %s is not printed:\n%s", run, s.base, out)
			}
			if !strings.Contains(out, demo.Password) {
				t.Fatalf("run %d: the demo password is not printed:\n%s", run, out)
			}
			code, page := s.get("/")
			if code != http.StatusOK {
				t.Fatalf("run %d: GET / = %d", run, code)
			}
			for _, acc := range demo.Accounts() {
				if !strings.Contains(out, acc.Email) {
					t.Errorf("run %d: %s (%s) is not printed", run, acc.Email, acc.Role)
				}
				if !strings.Contains(page, acc.Email) {
					t.Errorf("run %d: the start page does not list %s", run, acc.Email)
				}
			}
			if code, _ := s.get("/readyz"); code != http.StatusOK {
				t.Fatalf("run %d: GET /readyz = %d", run, code)
			}
			s.stop()

			// The demo is loaded once: the same accounts and organisations
			// after the second start, and the trail still verifies.
			db := openDB(t, cfg)
			var users, orgs int
			if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM users`).Scan(&users); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM organisations`).Scan(&orgs); err != nil {
				t.Fatal(err)
			}
			db.Close()
			// Every demo sign-in, plus people the demo's requests name.
			if users < len(demo.Accounts()) || orgs < 2 {
				t.Fatalf("run %d: %d accounts and %d organisations, want at least %d accounts and the demo organisations", run, users, orgs, len(demo.Accounts()))
			}
			counts = append(counts, [2]int{users, orgs})
			r := mustCLI(t, cfg, "", "audit", "verify")
			if !okEvents.MatchString(r.lastLine()) || r.lastLine() == "ok: 0 events" {
				t.Fatalf("run %d: audit verify: %s", run, r)
			}
			events = append(events, r.lastLine())
		}
		if counts[0] != counts[1] {
			t.Errorf("starting again on a loaded demo changed the accounts and organisations: %v then %v", counts[0], counts[1])
		}
		if events[0] != events[1] {
			t.Errorf("starting again on a loaded demo wrote audit events: %q then %q", events[0], events[1])
		}
	})
}

func TestServeFirstAdminLink(t *testing.T) {
	eachEngine(t, func(t *testing.T, cfg app.Config) {
		s := startServer(t, dbFlags(cfg)...)
		link := regexp.MustCompile(`(?m)^(http://\S+/setup/\S+)$`).FindStringSubmatch(s.stdout.String())
		if link == nil {
			t.Fatalf("no /setup/ link printed:\n%s", s.stdout)
		}
		if !strings.HasPrefix(link[1], s.base+"/setup/") {
			t.Fatalf("link %s is not on %s", link[1], s.base)
		}
		code, page := s.get(strings.TrimPrefix(link[1], s.base))
		if code != http.StatusOK || !strings.Contains(page, "admin@caregate.invalid") {
			t.Fatalf("GET %s = %d", link[1], code)
		}
		if code, _ := s.get("/setup/not-a-real-token"); code != http.StatusNotFound {
			t.Errorf("GET /setup/not-a-real-token = %d, want 404", code)
		}
		if strings.Contains(s.stderr.String(), strings.TrimPrefix(link[1], s.base+"/setup/")) {
			t.Errorf("the set-up token appears in the log:\n%s", s.stderr)
		}
		s.stop()

		// Accounts exist now: a second start prints no link.
		s = startServer(t, dbFlags(cfg)...)
		if strings.Contains(s.stdout.String(), "/setup/") {
			t.Errorf("a second start printed another set-up link:\n%s", s.stdout)
		}
		s.stopDuringRequest()

		// The demo is refused on a database that holds other accounts.
		r := cliOn(t, cfg, "", "serve", "--demo", "--addr", "127.0.0.1:0")
		if r.code != 1 || !strings.Contains(r.stderr, "--demo needs a fresh data directory") {
			t.Fatalf("serve --demo on a used database: %s", r)
		}
	})
}

// stopDuringRequest sends SIGTERM while a request is in flight (its body
// half sent) and checks that the server finishes it before exiting 0.
func (s *server) stopDuringRequest() {
	s.t.Helper()
	t := s.t
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "email=late%40nhs.net&password=x"
	fmt.Fprintf(conn, "POST /signin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		strings.TrimPrefix(s.base, "http://"), len(body), body[:10])
	time.Sleep(300 * time.Millisecond) // the handler is now waiting for the rest of the body
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		t.Fatalf("the server exited (%v) with a request in flight\nstderr:\n%s", err, s.stderr)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, _ := io.ReadAll(conn)
	// No CSRF token: the request is refused, but it is answered in full.
	if !strings.HasPrefix(string(reply), "HTTP/1.1 403 ") || !strings.Contains(string(reply), "</html>") {
		t.Fatalf("the request in flight got %.300q", reply)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("caregate serve after SIGTERM: %v\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("caregate serve did not stop within 20 s of SIGTERM\nstderr:\n%s", s.stderr)
	}
}
