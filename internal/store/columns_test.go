package store_test

import (
	"reflect"
	"testing"

	"github.com/caregate/caregate/internal/store"
)

func TestColumns(t *testing.T) {
	got := store.Columns([]any{"a", int64(1), 0, "b", int64(2), 1, "c", int64(3), 0}, 3)
	want := []any{[]string{"a", "b", "c"}, []int64{1, 2, 3}, []int64{0, 1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Columns = %#v, want %#v", got, want)
	}
}
