package browsertest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/store/storetest"
)

// engine is a database the journeys run on.
type engine struct {
	name string
	// config returns the database part of the configuration for one test.
	config func(t *testing.T) app.Config
}

// engines lists SQLite always and PostgreSQL when CAREGATE_TEST_POSTGRES is
// set. The storage layer's own suite insists on PostgreSQL under CI; these
// slower journeys only follow it when it is configured.
func engines() []engine {
	es := []engine{{name: "sqlite", config: func(t *testing.T) app.Config {
		return app.Config{DataDir: t.TempDir()}
	}}}
	if u := os.Getenv("CAREGATE_TEST_POSTGRES"); u != "" {
		es = append(es, engine{name: "postgres", config: func(t *testing.T) app.Config {
			// A schema of its own, dropped when the test ends (after the
			// app is closed: clean-ups run last-registered first).
			return app.Config{DatabaseURL: storetest.NewSchema(t, u)}
		}})
	}
	return es
}

// server is a CareGate server with the demo region loaded, serving on a
// loopback port for one test.
type server struct {
	URL  string
	App  *app.App
	logs *serverLog
}

// startServer builds the whole server as `caregate serve --demo` does, on a
// fresh database of the engine.
func startServer(t *testing.T, e engine) *server {
	t.Helper()
	ctx := context.Background()
	logs := &serverLog{t: t}
	// Registered first so it runs last, after the server has stopped: from
	// then on nothing may write to the test's log.
	t.Cleanup(logs.stop)

	cfg := e.config(t)
	cfg.Demo = true
	cfg.Addr = "127.0.0.1:0" // validated but unused: httptest picks the port
	a, err := app.New(ctx, cfg, app.Options{DemoAccounts: demo.Accounts(),
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatalf("app.New on %s: %v", e.name, err)
	}
	t.Cleanup(a.Close)
	if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
		t.Fatalf("demo.Load on %s: %v", e.name, err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(ts.Close)
	return &server{URL: ts.URL, App: a, logs: logs}
}

// serverLog passes the server's warnings and errors to the test log, and
// remembers errors: a journey that makes the server log an error has found a
// bug even when the page looked right.
type serverLog struct {
	mu     sync.Mutex
	t      *testing.T
	done   bool
	errors []string
}

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	line := string(bytes.TrimSpace(p))
	l.t.Log("server: " + line)
	if bytes.Contains(p, []byte("level=ERROR")) {
		l.errors = append(l.errors, line)
	}
	return len(p), nil
}

// takeErrors returns the errors logged since the last call.
func (l *serverLog) takeErrors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.errors
	l.errors = nil
	return e
}

func (l *serverLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}
