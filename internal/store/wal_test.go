package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/store"
)

// After a large transaction the WAL file grows; once a checkpoint has
// copied it back and the next commit starts the log again, the file is cut
// back to the limit instead of staying at its largest size.
func TestWALIsCutBackAfterACheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Options{DataDir: dir, WALSizeLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wal := filepath.Join(dir, "caregate.db-wal")
	size := func() int64 {
		fi, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if _, err := db.W.ExecContext(ctx, `CREATE TABLE scratch (b TEXT)`); err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		for range 64 {
			if _, err := tx.Exec(ctx, `INSERT INTO scratch (b) VALUES (?)`, strings.Repeat("x", 64<<10)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := size(); got < 4<<20 {
		t.Fatalf("the WAL is %d bytes after a 4 MB transaction", got)
	}
	var busy, frames, copied int
	if err := db.W.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil || frames != copied {
		t.Fatalf("checkpoint: busy %d, %d frames, %d copied, %v", busy, frames, copied, err)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO scratch (b) VALUES ('after')`); err != nil {
		t.Fatal(err)
	}
	if got := size(); got > 1<<20 {
		t.Errorf("the WAL is still %d bytes after the log started again, want at most %d", got, 1<<20)
	}
}
