package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/caregate/caregate/internal/store"
)

// readPostgres reads the segment's events on PostgreSQL through pgx itself,
// in the binary format, and hashes the bytes as they arrived: database/sql
// would make two allocations of every column of a million rows, which cost
// more than reading and hashing them.
func (sg *segment) readPostgres(ctx context.Context, db *store.DB) error {
	conn, err := db.R.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected PostgreSQL driver %T", dc)
		}
		tx, err := c.Conn().BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		// The events are read in the primary key's order. Without statistics
		// (a trail just written, before autovacuum has analysed it) the
		// planner would rather fetch the rows in bulk and sort them, on disk:
		// several times slower.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_sort = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, at, `+hashedColumns+`, prev_hash, hash
			FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq`,
			pgx.QueryResultFormats{pgx.BinaryFormatCode}, sg.lo, sg.hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		h := sha256.New()
		var fields [9][]byte
		for rows.Next() {
			v := rows.RawValues()
			if len(v) != 13 || len(v[0]) != 8 || len(v[1]) != 8 {
				return fmt.Errorf("audit event after %d: unexpected row shape", sg.lo+sg.n-1)
			}
			seq, at := int64(binary.BigEndian.Uint64(v[0])), int64(binary.BigEndian.Uint64(v[1]))
			copy(fields[:], v[2:11])
			if !sg.visit(seq, v[11], v[12], chainHash(h, seq, at, fields, v[11]) == string(v[12])) {
				return nil
			}
		}
		return rows.Err()
	})
}
