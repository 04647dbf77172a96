package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"hash"
	"sync"
	"unsafe"

	"modernc.org/sqlite"

	"github.com/caregate/caregate/internal/store"
)

// intactFunction is the SQL function caregate_audit_intact(seq, at, the
// hashed text columns, prev_hash, hash) on SQLite: whether an event's stored
// hash matches its stored fields. Verify hashes each row inside the query:
// handing thirteen columns a row over to Go costs SQLite's driver a lock and
// a copy for each, more than the hashing itself. The function's arguments
// are views of SQLite's own memory, valid only during the call.
const intactFunction = "caregate_audit_intact"

var hashers = sync.Pool{New: func() any { return sha256.New() }}

func init() {
	sqlite.MustRegisterFunction(intactFunction, &sqlite.FunctionImpl{
		NArgs:         13,
		Deterministic: true,
		VolatileArgs:  true,
		Scalar: func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			seq, ok1 := args[0].(int64)
			at, ok2 := args[1].(int64)
			if !ok1 || !ok2 {
				return false, nil
			}
			var fields [9][]byte
			for i := range fields {
				b, ok := bytesOf(args[2+i])
				if !ok {
					return false, nil
				}
				fields[i] = b
			}
			prev, ok1 := bytesOf(args[11])
			stored, ok2 := bytesOf(args[12])
			if !ok1 || !ok2 {
				return false, nil
			}
			h := hashers.Get().(hash.Hash)
			defer hashers.Put(h)
			return chainHash(h, seq, at, fields, prev) == string(stored), nil
		},
	})
}

// bytesOf views a text or blob argument as bytes, without copying.
func bytesOf(v driver.Value) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		return unsafe.Slice(unsafe.StringData(v), len(v)), true
	case []byte:
		return v, true
	}
	return nil, false
}

// readSQLite reads the segment's events on SQLite, which hashes each (see
// intactFunction) and hands over only the sequence number, the two hashes
// and whether the event is intact.
func (sg *segment) readSQLite(ctx context.Context, db *store.DB) error {
	tx, err := db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT seq, prev_hash, hash, `+intactFunction+`(seq, at, `+hashedColumns+`, prev_hash, hash)
		FROM audit_events WHERE seq >= ? AND seq <= ? ORDER BY seq`, sg.lo, sg.hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		seq            int64
		prevHash, hash sql.RawBytes
		intact         bool
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &prevHash, &hash, &intact); err != nil {
			return err
		}
		if !sg.visit(seq, prevHash, hash, intact) {
			return nil
		}
	}
	return rows.Err()
}
