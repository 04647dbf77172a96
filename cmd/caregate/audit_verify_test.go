package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/app"
)

var okEvents = regexp.MustCompile(`^ok: (\d+) events$`)

// populate writes an audit trail through the command line only: an
// administrator and a few API tokens. It returns the number of events.
func populate(t *testing.T, cfg app.Config) int64 {
	t.Helper()
	mustCLI(t, cfg, strongPassword+"\n", "user", "create-admin", "--email", "audra.it@nhs.net")
	for i := range 4 {
		mustCLI(t, cfg, "", "token", "create", "--user", "audra.it@nhs.net", "--name", fmt.Sprintf("script %d", i))
	}
	r := mustCLI(t, cfg, "", "audit", "verify")
	m := okEvents.FindStringSubmatch(r.lastLine())
	if m == nil {
		t.Fatalf("audit verify on an intact trail: %s", r)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	if n < 5 {
		t.Fatalf("only %d events after creating an administrator and four tokens", n)
	}
	return n
}

func TestAuditVerifyCatchesTampering(t *testing.T) {
	// Each case tampers with the rows straight in the database and names
	// the first event verify must report, given the number of events n.
	cases := []struct {
		name   string
		tamper []string
		want   func(n int64) int64
	}{
		{"change an actor", []string{
			`UPDATE audit_events SET actor = 'someone-else@nhs.net' WHERE seq = 3`,
		}, func(int64) int64 { return 3 }},
		{"delete a middle event", []string{
			`DELETE FROM audit_events WHERE seq = 3`,
		}, func(int64) int64 { return 3 }},
		{"swap two events", []string{
			`UPDATE audit_events SET seq = -1 WHERE seq = 2`,
			`UPDATE audit_events SET seq = 2 WHERE seq = 4`,
			`UPDATE audit_events SET seq = 4 WHERE seq = -1`,
		}, func(int64) int64 { return 2 }},
		{"delete the last event", []string{
			`DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)`,
		}, func(n int64) int64 { return n }},
	}
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					cfg := e.fresh(t) // a fresh database for every case
					n := populate(t, cfg)
					db := openDB(t, cfg)
					for _, q := range tc.tamper {
						if _, err := db.Exec(context.Background(), q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
					db.Close()
					want := tc.want(n)
					r := cliOn(t, cfg, "", "audit", "verify")
					if r.code != 1 {
						t.Fatalf("verify after tampering: want exit 1; got %s", r)
					}
					if !strings.Contains(r.stderr, fmt.Sprintf("FAILED: event %d:", want)) {
						t.Fatalf("verify does not name event %d: %s", want, r)
					}
					if okEvents.MatchString(r.lastLine()) {
						t.Fatalf("verify printed ok after tampering: %s", r)
					}
				})
			}
		})
	}
}
