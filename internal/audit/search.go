package audit

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/store"
)

// Filter selects audit events; empty fields match everything.
type Filter struct {
	Actor      string    // user e-mail or id
	ObjectType string    // e.g. "organisation"
	ObjectID   string    //
	Action     string    // exact action, or a prefix ending in "." (e.g. "auth.")
	From, To   time.Time // inclusive from, exclusive to
	Before     int64     // cursor: only events with seq < Before
	Limit      int
}

// Search returns events matching f, newest first, and the cursor of the next
// page ("" when there is none).
func Search(ctx context.Context, db *store.DB, f Filter) ([]Event, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var where []string
	var args []any
	if f.Actor != "" {
		// An e-mail address (or "anonymous") is looked for as the actor
		// recorded, anything else as an account's id: each has its index.
		if strings.Contains(f.Actor, "@") || strings.EqualFold(f.Actor, "anonymous") {
			where = append(where, "actor = ?")
			args = append(args, strings.ToLower(f.Actor))
		} else {
			where = append(where, "actor_id = ?")
			args = append(args, f.Actor)
		}
	}
	if f.ObjectType != "" {
		where = append(where, "object_type = ?")
		args = append(args, f.ObjectType)
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = ?")
		args = append(args, f.ObjectID)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			where = append(where, "action >= ? AND action < ?")
			args = append(args, f.Action, f.Action[:len(f.Action)-1]+"/") // '/' sorts just after '.'
		} else {
			where = append(where, "action = ?")
			args = append(args, f.Action)
		}
	}
	if !f.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, f.To.UnixMicro())
	}
	if f.Before > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.Before)
	}
	var out []Event
	var err error
	switch {
	case f.ObjectType != "" && f.ObjectID != "" || f.Actor != "" || f.Action != "":
		out, err = searchSegments(ctx, db, f, where, args, limit+1)
	case !f.From.IsZero() || !f.To.IsZero():
		out, err = searchDates(ctx, db, f, where, args, limit+1)
	default:
		q := selectEvents
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		out, err = queryEvents(ctx, db, nil, q+" ORDER BY seq DESC LIMIT ?", append(args, limit+1)...)
	}
	if err != nil {
		return nil, "", fmt.Errorf("search audit: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].Seq, 10)
	}
	return out, next, nil
}

const selectEvents = `SELECT seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash FROM audit_events`

// segmentBits sizes the segments of the audit trail's indexes by object,
// person, action and time: 1 << segmentBits events each, each index keyed
// by (seq >> segmentBits, …) since migration 13, so that an event's entries
// land among the few pages of the newest segment rather than anywhere in
// indexes as long as the trail.
const segmentBits = 18

// segmentOf is an event's segment, as the indexes name it.
var segmentOf = "(seq >> " + strconv.Itoa(segmentBits) + ")"

// bySegment collects up to want events, newest first, one segment at a
// time: from the newest that can hold a match (the cursor's, or the
// trail's last) down to the first, until it has enough. search appends to
// out at most n events of segment seg. A segment holds 262,144 events, so a
// search of a long trail for something seen rarely looks at a few thousand
// segments at worst.
func bySegment(ctx context.Context, db *store.DB, f Filter, want int,
	search func(seg int64, n int, out []Event) ([]Event, error)) ([]Event, error) {
	top := f.Before - 1
	if f.Before <= 0 {
		if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_events`).Scan(&top); err != nil {
			return nil, err
		}
	}
	var out []Event
	for seg := top >> segmentBits; seg >= 0 && len(out) < want; seg-- {
		var err error
		if out, err = search(seg, want-len(out), out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// searchSegments finds up to want events meeting the conditions where
// (which name an object, a person or an action), newest first, through the
// index of each segment.
func searchSegments(ctx context.Context, db *store.DB, f Filter, where []string, args []any, want int) ([]Event, error) {
	q := segmentQuery(where)
	return bySegment(ctx, db, f, want, func(seg int64, n int, out []Event) ([]Event, error) {
		return queryEvents(ctx, db, out, q, append(append([]any{seg}, args...), n)...)
	})
}

// segmentMoments reads the first and last moments of a segment's events
// from the index by time (one short read each; NULL if it holds none).
var segmentMoments = `SELECT (SELECT at FROM audit_events WHERE ` + segmentOf + ` = ? ORDER BY at LIMIT 1),
	(SELECT at FROM audit_events WHERE ` + segmentOf + ` = ? ORDER BY at DESC LIMIT 1)`

// searchDates finds up to want events between f.From and f.To (the
// conditions where, dates and cursor only), newest first, passing over the
// segments whose events all lie outside the dates (two short index reads
// each) and reading the others by seq, newest first, so that no more than
// a segment is read to find nothing. Events are in seq order and nearly in
// time order, but not exactly (an event's moment is taken before it joins
// the chain), so every segment is looked at rather than stopping at the
// first one before the dates.
func searchDates(ctx context.Context, db *store.DB, f Filter, where []string, args []any, want int) ([]Event, error) {
	q := selectEvents + ` WHERE seq >= ? AND seq < ? AND ` + strings.Join(where, " AND ") + ` ORDER BY seq DESC LIMIT ?`
	return bySegment(ctx, db, f, want, func(seg int64, n int, out []Event) ([]Event, error) {
		var first, last sql.NullInt64
		if err := db.QueryRow(ctx, segmentMoments, seg, seg).Scan(&first, &last); err != nil {
			return nil, err
		}
		if !first.Valid || !f.From.IsZero() && last.Int64 < f.From.UnixMicro() || !f.To.IsZero() && first.Int64 >= f.To.UnixMicro() {
			return out, nil
		}
		return queryEvents(ctx, db, out, q, append(append([]any{seg << segmentBits, (seg + 1) << segmentBits}, args...), n)...)
	})
}

// segmentQuery selects, newest first, the events of one segment (its first
// parameter) that meet the conditions where, at most its last parameter.
func segmentQuery(where []string) string {
	return selectEvents + ` WHERE ` + segmentOf + ` = ? AND ` + strings.Join(where, " AND ") +
		` ORDER BY seq DESC LIMIT ?`
}

// queryEvents runs q and appends the events it returns to out.
func queryEvents(ctx context.Context, db *store.DB, out []Event, q string, args ...any) ([]Event, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var at int64
		var detail string
		if err := rows.Scan(&e.Seq, &at, &e.ActorID, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Outcome,
			&e.IP, &e.UserAgent, &detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = time.UnixMicro(at).UTC()
		if detail != "" && detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CSVHeader is the header row of the CSV export.
var CSVHeader = []string{"seq", "at", "actor", "actor_id", "action", "object_type", "object_id", "outcome", "ip", "user_agent", "detail", "hash"}

// CSVRow renders an event as a CSV record matching CSVHeader. Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func CSVRow(e Event) []string {
	d := ""
	if len(e.Detail) > 0 {
		b, _ := json.Marshal(e.Detail)
		d = string(b)
	}
	row := []string{strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339), e.Actor, e.ActorID, e.Action, e.ObjectType,
		e.ObjectID, e.Outcome, e.IP, e.UserAgent, d, e.Hash}
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}

// exportPage is how many events an export reads at a time.
const exportPage = 1000

// WriteCSV writes the header and the events matching f, newest first (at
// most max when max > 0), a page at a time so that an export of the whole
// trail never sits in memory. begin is called once the first page has been
// read and before anything is written: an error returned with started false
// can still be reported normally; with started true the output is already
// under way and incomplete, and the caller must abort it so that no reader
// mistakes it for a whole file.
func WriteCSV(ctx context.Context, db *store.DB, f Filter, max int, w io.Writer, begin func()) (started bool, err error) {
	f.Limit = exportPage
	if max > 0 {
		f.Limit = min(exportPage, max)
	}
	evs, next, err := Search(ctx, db, f)
	if err != nil {
		return false, err
	}
	begin()
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVHeader)
	written := 0
	for {
		for _, e := range evs {
			_ = cw.Write(CSVRow(e))
		}
		written += len(evs)
		cw.Flush()
		if err := cw.Error(); err != nil {
			return true, nil // the reader went away
		}
		if next == "" || (max > 0 && written >= max) {
			return true, nil
		}
		f.Before, _ = strconv.ParseInt(next, 10, 64)
		if max > 0 {
			f.Limit = min(exportPage, max-written)
		}
		if evs, next, err = Search(ctx, db, f); err != nil {
			return true, err
		}
	}
}
