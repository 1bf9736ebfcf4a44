package fila

import (
	"time"

	"github.com/robfig/cron/v3"
)

// DST, for a Pattern at fixed hours, as cron does it:
//   - a time the spring-forward gap skips (02:30 when clocks jump from
//     02:00 to 03:00) runs once, at the end of the gap (03:00): the
//     cron parser alone would skip that day;
//   - a time the fall-back hour repeats (01:30 twice) runs once, at its
//     first occurrence (ticker.next).
// Patterns with a wildcard hour ("0 * * * *") run on the clock as it is:
// no tick in the gap, both occurrences of the repeated hour.

// gapTick returns the end of the first DST gap in (from, n) during which s
// would have matched a wall-clock time, or zero when there is none.
func gapTick(s *cron.SpecSchedule, loc *time.Location, from, n time.Time) time.Time {
	const day = 24 * time.Hour
	_, off := from.In(loc).Zone()
	for t := from; t.Before(n); {
		next := t.Add(day)
		if next.After(n) {
			next = n
		}
		if _, o := next.In(loc).Zone(); o != off {
			g := transition(loc, t, next, off)
			if o > off { // clocks jumped forward by o-off
				before := *s
				before.Location = time.FixedZone("before", off)
				if m := before.Next(g.Add(-time.Nanosecond)); m.Before(g.Add(time.Duration(o-off)*time.Second)) && g.Before(n) {
					return g
				}
			}
			off = o
		}
		t = next
	}
	return time.Time{}
}

// transition returns the first instant in (a, b] whose offset in loc is
// not off, to the second.
func transition(loc *time.Location, a, b time.Time, off int) time.Time {
	for b.Sub(a) > time.Second {
		mid := a.Add(b.Sub(a) / 2)
		if _, o := mid.In(loc).Zone(); o == off {
			a = mid
		} else {
			b = mid
		}
	}
	return b.Truncate(time.Second)
}
