package store

// SetWALSizeLimit sets the limit for stores opened from now on, and returns
// a function that restores it.
func SetWALSizeLimit(n int64) (restore func()) {
	old := walSizeLimit
	walSizeLimit = n
	return func() { walSizeLimit = old }
}
