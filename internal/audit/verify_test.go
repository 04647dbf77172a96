package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// exec runs tampering SQL straight on the database, as someone with access to
// it but not to CareGate would.
func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rehash recomputes and stores the hash of event seq from its stored fields
// and stored prev_hash, as an attacker who knows the algorithm would after
// editing it.
func rehash(t *testing.T, db *store.DB, seq int64) string {
	t.Helper()
	var at int64
	var f [9]string
	var prev string
	err := db.QueryRow(context.Background(), `SELECT at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash
		FROM audit_events WHERE seq = ?`, seq).Scan(&at, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &prev)
	if err != nil {
		t.Fatal(err)
	}
	h := audit.ChainHash(seq, at, f, prev)
	exec(t, db, `UPDATE audit_events SET hash = ? WHERE seq = ?`, h, seq)
	return h
}

func TestVerifyIntact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		mustVerify(t, db, 0) // an empty trail is intact
		l, _ := newLog(t, db)
		appendN(t, l, 6)
		mustVerify(t, db, 6)
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *store.DB)
		want   int64 // Break.Seq
	}{
		{"edit action", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET action = 'record.export' WHERE seq = 3`)
		}, 3},
		{"edit detail", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET detail = '{"n":"33"}' WHERE seq = 3`)
		}, 3},
		{"edit time", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET at = at + 1 WHERE seq = 4`)
		}, 4},
		{"edit actor of the first", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET actor = 'someone@nhs.net' WHERE seq = 1`)
		}, 1},
		{"edit prev_hash", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET prev_hash = (SELECT hash FROM audit_events WHERE seq = 1) WHERE seq = 5`)
		}, 5},
		{"delete a middle event", func(t *testing.T, db *store.DB) {
			exec(t, db, `DELETE FROM audit_events WHERE seq = 3`)
		}, 3},
		{"delete the first event", func(t *testing.T, db *store.DB) {
			exec(t, db, `DELETE FROM audit_events WHERE seq = 1`)
		}, 1},
		{"delete the last event", func(t *testing.T, db *store.DB) {
			exec(t, db, `DELETE FROM audit_events WHERE seq = 6`)
		}, 6},
		{"delete the last two events", func(t *testing.T, db *store.DB) {
			exec(t, db, `DELETE FROM audit_events WHERE seq >= 5`)
		}, 5},
		{"delete everything", func(t *testing.T, db *store.DB) {
			exec(t, db, `DELETE FROM audit_events`)
		}, 1},
		{"delete an event and renumber the rest", func(t *testing.T, db *store.DB) {
			exec(t, db, `DELETE FROM audit_events WHERE seq = 3`)
			for s := 4; s <= 6; s++ {
				exec(t, db, `UPDATE audit_events SET seq = ? WHERE seq = ?`, s-1, s)
			}
		}, 3},
		{"swap two events", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET seq = -2 WHERE seq = 2`)
			exec(t, db, `UPDATE audit_events SET seq = 2 WHERE seq = 4`)
			exec(t, db, `UPDATE audit_events SET seq = 4 WHERE seq = -2`)
		}, 2},
		{"swap two neighbours", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET seq = -5 WHERE seq = 5`)
			exec(t, db, `UPDATE audit_events SET seq = 5 WHERE seq = 6`)
			exec(t, db, `UPDATE audit_events SET seq = 6 WHERE seq = -5`)
		}, 5},
		{"replace a hash", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE seq = 3`)
		}, 3},
		{"edit an event and recompute its hash", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET action = 'record.export' WHERE seq = 3`)
			rehash(t, db, 3)
		}, 4},
		{"edit an event, recompute its hash and relink the next", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET action = 'record.export' WHERE seq = 3`)
			h := rehash(t, db, 3)
			exec(t, db, `UPDATE audit_events SET prev_hash = ? WHERE seq = 4`, h)
		}, 4},
		{"edit the last event and recompute its hash", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET action = 'record.export' WHERE seq = 6`)
			rehash(t, db, 6)
		}, 6},
		{"rewrite the whole chain from an event on", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_events SET action = 'record.export' WHERE seq = 4`)
			for s := int64(4); s <= 6; s++ {
				h := rehash(t, db, s)
				exec(t, db, `UPDATE audit_events SET prev_hash = ? WHERE seq = ?`, h, s+1)
			}
		}, 6}, // only the recorded head still knows the truth
		{"add an event beyond the head", func(t *testing.T, db *store.DB) {
			exec(t, db, `INSERT INTO audit_events (seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash)
				SELECT 7, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, hash, '' FROM audit_events WHERE seq = 6`)
			rehash(t, db, 7)
		}, 7},
		{"move the head back", func(t *testing.T, db *store.DB) {
			exec(t, db, `UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_events WHERE seq = 5)`)
		}, 6},
	}
	for _, split := range []int64{1, 3, 6} {
		undo := audit.SplitVerify(split)
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d-segments", tc.name, split), func(t *testing.T) {
				storetest.Each(t, func(t *testing.T, db *store.DB) {
					l, _ := newLog(t, db)
					appendN(t, l, 6)
					mustVerify(t, db, 6)
					tc.tamper(t, db)
					n, err := audit.Verify(context.Background(), db)
					var b *audit.Break
					if !errors.As(err, &b) {
						t.Fatalf("Verify = %d, %v; want a *Break", n, err)
					}
					if b.Seq != tc.want {
						t.Fatalf("Break at %d (%s), want %d", b.Seq, b.Reason, tc.want)
					}
					if n > b.Seq {
						t.Fatalf("Verify reports %d events checked beyond the break at %d", n, b.Seq)
					}
					if b.Reason == "" || b.Error() == "" {
						t.Fatal("Break without a reason")
					}
				})
			})
		}
		undo()
	}
}

// TestVerifyHashesTextAsStored checks text that is not ASCII (lengths are in
// bytes), empty fields and a trail long enough for several segments.
func TestVerifyHashesTextAsStored(t *testing.T) {
	defer audit.SplitVerify(4)()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l, _ := newLog(t, db)
		who := audit.Who{UserID: "u-ß", Email: "zoë@nhs.net", IP: "", UserAgent: "Mozilla/5.0 (ﾃｽﾄ) \\x00 ,,"}
		for i := range 40 {
			ev := audit.New(who, "record.view", "patient", fmt.Sprintf("Ωmega-%d", i), audit.Success,
				map[string]string{"note": "naïve café, 1,2,3 – 日本", "i": fmt.Sprint(i)})
			if i%7 == 0 {
				ev.Detail = nil
			}
			if err := l.Append(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
		mustVerify(t, db, 40)
		exec(t, db, `UPDATE audit_events SET user_agent = 'Mozilla/5.0 (ﾃｽﾄ) \\x00 ,' WHERE seq = 23`)
		_, err := audit.Verify(context.Background(), db)
		var b *audit.Break
		if !errors.As(err, &b) || b.Seq != 23 {
			t.Fatalf("Verify after editing event 23 = %v, want a break at 23", err)
		}
	})
}

// TestTrailSurvivesRowidMigration writes a trail on SQLite's schema before
// migration 9 (which makes seq the table's rowid), migrates, and checks that
// every event is still there, in order, intact, and stored once.
func TestTrailSurvivesRowidMigration(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	for _, m := range ms {
		if m.Version >= 9 {
			break
		}
		exec(t, db, m.SQL)
		exec(t, db, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, m.Version, m.Name)
	}
	indexes := func() (n int) {
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := indexes(); n != 5 {
		t.Fatalf("before migration 9: %d indexes on audit_events, want 5 (4 and the primary key's)", n)
	}
	l, _ := newLog(t, db)
	appendN(t, l, 25)
	l.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Migration 9 leaves the four of migration 1 (no primary key index:
	// seq is the rowid); migration 13 adds a fifth, by the actor's e-mail.
	if n := indexes(); n != 5 {
		t.Fatalf("after migrations 9 and 13: %d indexes on audit_events, want 5", n)
	}
	var auto int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND name LIKE 'sqlite_autoindex%'`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("after migration 9: %d primary key indexes (%v), want none: seq is the rowid", auto, err)
	}
	mustVerify(t, db, 25)
	var obj string
	if err := db.QueryRow(ctx, `SELECT object_id FROM audit_events WHERE rowid = 17`).Scan(&obj); err != nil || obj != "obj-17" {
		t.Fatalf("event at rowid 17 is %q (%v), want obj-17: seq is the rowid", obj, err)
	}
}
