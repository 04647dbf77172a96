package store

import (
	"context"
	"database/sql"
	"strings"
)

// maxParams bounds the parameters of one statement built by ExecRows:
// SQLite allows 32,766 and PostgreSQL 65,535.
const maxParams = 32000

// Values returns n rows of width placeholders each, "(?, ?), (?, ?)", for
// a multi-row VALUES list.
func Values(n, width int) string {
	row := "(" + strings.Repeat("?, ", width-1) + "?)"
	return row + strings.Repeat(", "+row, n-1)
}

// In returns the condition "col is one of vals" and its arguments. SQLite
// gets a list of parameters; PostgreSQL gets one array parameter, which it
// plans in constant time where a list of hundreds of parameters costs
// milliseconds. vals must not be empty.
func In(d Dialect, col string, vals []string) (string, []any) {
	if d == Postgres {
		return col + ` = ANY(?)`, []any{vals}
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return col + ` IN (` + Values(1, len(vals))[1:], args
}

// Match is a column and the values it may take, for AnyIn.
type Match struct {
	Col  string
	Vals []string
}

// AnyIn returns the condition that any of the columns takes one of its
// values (as In), leaving out those with no values, and its arguments; ""
// when none has any.
func AnyIn(d Dialect, ms ...Match) (string, []any) {
	var conds []string
	var args []any
	for _, m := range ms {
		if len(m.Vals) > 0 {
			cond, a := In(d, m.Col, m.Vals)
			conds, args = append(conds, cond), append(args, a...)
		}
	}
	return strings.Join(conds, " OR "), args
}

// ExecRows runs a set-based statement over many rows: head, then a VALUES
// list of the rows, then tail; in as few statements as the engines'
// parameter limits allow, and returns the rows affected. head ends where
// the rows go ("INSERT INTO t (a, b) VALUES ", "UPDATE t SET … FROM
// (VALUES "); fixed are the arguments of head's own placeholders, rows
// holds width values a row, row after row. On PostgreSQL a VALUES list
// outside an INSERT takes its column types from its values: give such a
// list text only, and the rest as fixed arguments.
func (t *Tx) ExecRows(ctx context.Context, head string, fixed []any, width int, rows []any, tail string) (int64, error) {
	var affected int64
	per := (maxParams - len(fixed)) / width
	for len(rows) > 0 {
		n := min(len(rows)/width, per)
		res, err := t.Exec(ctx, head+Values(n, width)+tail, append(fixed[:len(fixed):len(fixed)], rows[:n*width]...)...)
		if err != nil {
			return affected, err
		}
		affected += rowsAffected(res)
		rows = rows[n*width:]
	}
	return affected, nil
}

func rowsAffected(res sql.Result) int64 {
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	return n
}
