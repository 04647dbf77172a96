package store

import "fmt"

// Columns turns the arguments of a multi-row insert, width a row and row
// after row, into one array a column, for PostgreSQL's unnest: a statement
// such as INSERT … SELECT * FROM unnest(?::text[], ?::bigint[]) then takes
// width parameters for any number of rows, instead of width a row, and is
// one round trip. Text columns become []string and whole-number columns
// []int64 (cast them ?::bigint[]; PostgreSQL assigns bigint to an integer
// column). It panics on a column of another type: a programming error.
func Columns(flat []any, width int) []any {
	n := len(flat) / width
	cols := make([]any, width)
	for c := range cols {
		switch flat[c].(type) {
		case string:
			col := make([]string, n)
			for i := range col {
				col[i] = flat[width*i+c].(string)
			}
			cols[c] = col
		case int, int64:
			col := make([]int64, n)
			for i := range col {
				switch v := flat[width*i+c].(type) {
				case int:
					col[i] = int64(v)
				case int64:
					col[i] = v
				}
			}
			cols[c] = col
		default:
			panic(fmt.Sprintf("store.Columns: column %d is a %T", c, flat[c]))
		}
	}
	return cols
}
