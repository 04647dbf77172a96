package clock

import (
	"time"
	_ "time/tzdata" // Europe/London on machines without a zone database
)

// London is England's time zone. Dates the rules speak of (working days,
// finishing and leaving dates, validity periods, expiry dates in messages)
// are calendar dates there.
var London = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic("clock: " + err.Error()) // time/tzdata is linked in: cannot happen
	}
	return l
}()

// Today is the start of the current day in England by c.
func Today(c Clock) time.Time {
	y, m, d := c.Now().In(London).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, London)
}
