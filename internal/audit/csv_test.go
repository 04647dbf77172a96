package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestWriteCSVPagesThroughTheTrail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _ := newLog(t, db)
		// More than one export page (1,000 events), written in one transaction.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := range 1203 {
				if err := l.Record(ctx, tx, audit.New(admin, "record.view", "patient", fmt.Sprint(i), audit.Success, nil)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ max, want int }{{0, 1203}, {5, 5}, {1001, 1001}} {
			var buf bytes.Buffer
			begun := 0
			started, err := audit.WriteCSV(ctx, db, audit.Filter{Action: "record.view"}, tc.max, &buf, func() {
				if buf.Len() != 0 {
					t.Error("begin called after writing")
				}
				begun++
			})
			if err != nil || !started || begun != 1 {
				t.Fatalf("max %d: started %v, begun %d, %v", tc.max, started, begun, err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.want+1 || rows[0][0] != "seq" || rows[1][0] != "1203" || rows[len(rows)-1][0] != fmt.Sprint(1203-tc.want+1) {
				t.Fatalf("max %d: %d rows, first %v, last %v", tc.max, len(rows), rows[1][0], rows[len(rows)-1][0])
			}
		}
	})
}
