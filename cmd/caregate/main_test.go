package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestMain(m *testing.M) {
	// The commands read these; a developer's shell must not point the tests
	// at a real database or data directory.
	for _, k := range []string{"CAREGATE_DATABASE_URL", "CAREGATE_DATA", "CAREGATE_BASE_URL", "CAREGATE_TRUST_PROXY"} {
		os.Unsetenv(k)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// engine is a database the command line is pointed at.
type engine struct {
	name string
	// fresh returns the configuration of a new, empty database.
	fresh func(t *testing.T) app.Config
}

// engines lists SQLite always and PostgreSQL when CAREGATE_TEST_POSTGRES is
// set (under CI it must be).
func engines(t *testing.T) []engine {
	t.Helper()
	es := []engine{{name: "sqlite", fresh: func(t *testing.T) app.Config {
		return app.Config{DataDir: t.TempDir()}
	}}}
	if base := storetest.PostgresURL(t); base != "" {
		es = append(es, engine{name: "postgres", fresh: func(t *testing.T) app.Config {
			return app.Config{DatabaseURL: storetest.NewSchema(t, base)}
		}})
	}
	return es
}

// eachEngine runs fn as a subtest on every engine with a fresh database.
func eachEngine(t *testing.T, fn func(t *testing.T, cfg app.Config)) {
	t.Helper()
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e.fresh(t))
		})
	}
}

// dbFlags are the command-line flags that select cfg's database.
func dbFlags(cfg app.Config) []string {
	if cfg.DatabaseURL != "" {
		return []string{"--database-url", cfg.DatabaseURL}
	}
	return []string{"--data", cfg.DataDir}
}

// result is what one command run produced.
type result struct {
	code           int
	stdout, stderr string
}

// lastLine is the last non-empty line of standard output.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	return lines[len(lines)-1]
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
}

// cli runs the caregate command line in this process, with stdin as the
// (non-terminal) standard input.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// cliOn runs a command with cfg's database flags appended.
func cliOn(t *testing.T, cfg app.Config, stdin string, args ...string) result {
	t.Helper()
	return cli(t, stdin, append(args, dbFlags(cfg)...)...)
}

// mustCLI runs a command that must succeed.
func mustCLI(t *testing.T, cfg app.Config, stdin string, args ...string) result {
	t.Helper()
	r := cliOn(t, cfg, stdin, args...)
	if r.code != 0 {
		t.Fatalf("caregate %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// openDB opens cfg's database directly, as an operator with SQL access would.
func openDB(t *testing.T, cfg app.Config) *store.DB {
	t.Helper()
	db, err := app.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// strongPassword passes the strength rule for every account in these tests.
const strongPassword = "violet-Harbour-42-teapot"
