package fila

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinEvery is the shortest Schedule.Every.
const MinEvery = time.Second

// Schedule says when a job scheduler adds its jobs: every Every, or at
// the times a cron Pattern names. Set exactly one of them. Ticks are
// computed from the backend's clock, never the local one.
type Schedule struct {
	// Every runs a job at each multiple of Every since the Unix epoch
	// (aligned, like BullMQ's every: the next tick after t is
	// floor(t/Every)*Every + Every), or at Start + k*Every when Start is
	// set (anchored). At least MinEvery.
	Every time.Duration
	// Pattern is a cron pattern: 5 fields (minute hour day-of-month month
	// day-of-week) or 6 with seconds first, or a descriptor such as
	// @daily, @hourly. Parsed by github.com/robfig/cron/v3.
	Pattern string
	// TZ is the IANA time zone Pattern is read in ("Europe/Paris");
	// default UTC. Only with Pattern.
	TZ string
	// Start, when set, is the earliest tick. End, when set, is the latest:
	// the scheduler is removed after its last tick's job is added.
	Start, End time.Time
	// Limit, when positive, is how many jobs the scheduler adds in all;
	// then it is removed.
	Limit int
	// Immediately adds a job at once when the scheduler is created or
	// changed, then follows the schedule.
	Immediately bool
	// CatchUp is how late a tick may be and still get its own job: ticks
	// missed by at most CatchUp (a worker died holding the previous tick's
	// job, claims ran late) each run; older ones, missed while no worker
	// ran, are coalesced: the stale pending job runs once as the catch-up
	// and the schedule resumes at the next tick after it. 0 means
	// DefaultCatchUp.
	CatchUp time.Duration
	// SkipIfRunning completes a tick's job without running its handler
	// (its return value is a SkippedTick) when the previous tick's job
	// has not finished (running, or waiting for a retry). By default
	// every tick runs, overlapping or not.
	SkipIfRunning bool
}

// DefaultCatchUp is the CatchUp of a Schedule that sets none: longer than a
// crashed worker's job takes to come back with the default LockDuration
// and StalledInterval.
const DefaultCatchUp = 2 * time.Minute

// spec is a Schedule as stored in the backend, with a digest of the job
// template: a change to either makes an upsert replace the scheduler.
type spec struct {
	Every         time.Duration `json:"every,omitempty"`
	Pattern       string        `json:"pattern,omitempty"`
	TZ            string        `json:"tz,omitempty"`
	Start         int64         `json:"start,omitempty"` // unix ms
	End           int64         `json:"end,omitempty"`
	Limit         int           `json:"limit,omitempty"`
	Immediately   bool          `json:"immediately,omitempty"`
	CatchUp       time.Duration `json:"catch_up,omitempty"`
	SkipIfRunning bool          `json:"skip_if_running,omitempty"`
	Job           string        `json:"job"` // digest of the job template
}

func (s Schedule) spec(job string) spec {
	sp := spec{Every: s.Every, Pattern: s.Pattern, TZ: s.TZ, Limit: s.Limit, Immediately: s.Immediately, CatchUp: s.CatchUp, SkipIfRunning: s.SkipIfRunning, Job: job}
	if !s.Start.IsZero() {
		sp.Start = s.Start.UnixMilli()
	}
	if !s.End.IsZero() {
		sp.End = s.End.UnixMilli()
	}
	return sp
}

func (sp spec) encode() string {
	b, _ := json.Marshal(sp) // plain fields: cannot fail
	return string(b)
}

func decodeSpec(s string) (spec, error) {
	var sp spec
	err := json.Unmarshal([]byte(s), &sp)
	return sp, err
}

func (sp spec) schedule() Schedule {
	s := Schedule{Every: sp.Every, Pattern: sp.Pattern, TZ: sp.TZ, Limit: sp.Limit, Immediately: sp.Immediately, CatchUp: sp.CatchUp, SkipIfRunning: sp.SkipIfRunning}
	if sp.Start != 0 {
		s.Start = time.UnixMilli(sp.Start)
	}
	if sp.End != 0 {
		s.End = time.UnixMilli(sp.End)
	}
	return s
}

// cronParser accepts 5 or 6 fields (seconds optional) and descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ticker computes a valid Schedule's ticks.
type ticker struct {
	s         Schedule
	cron      *cron.SpecSchedule // nil for Every
	loc       *time.Location
	fixedHour bool // the pattern's hour field is not a wildcard
}

// newTicker validates s and returns its ticker; errors are
// *ValidationError naming the field.
func newTicker(s Schedule) (*ticker, error) {
	t := &ticker{s: s, loc: time.UTC}
	switch {
	case s.Every == 0 && s.Pattern == "":
		return nil, invalid("Schedule", "sets neither Every nor Pattern")
	case s.Every != 0 && s.Pattern != "":
		return nil, invalid("Schedule", "sets both Every and Pattern; set one")
	case s.Every != 0 && s.Every < MinEvery:
		return nil, invalid("Every", "is %v, minimum %v", s.Every, MinEvery)
	case s.Every != 0 && s.TZ != "":
		return nil, invalid("TZ", "is only for Pattern (Every is aligned to the Unix epoch or to Start)")
	case s.Limit < 0:
		return nil, invalid("Limit", "is %d, want 0 (none) or more", s.Limit)
	case s.CatchUp < 0:
		return nil, invalid("CatchUp", "is %v, want 0 (the default) or more", s.CatchUp)
	case !s.Start.IsZero() && !s.End.IsZero() && s.End.Before(s.Start):
		return nil, invalid("End", "%v is before Start %v", s.End, s.Start)
	}
	if s.TZ != "" {
		loc, err := time.LoadLocation(s.TZ)
		if err != nil || s.TZ == "Local" {
			return nil, invalid("TZ", "%q is not a known IANA time zone", s.TZ)
		}
		t.loc = loc
	}
	if s.Pattern != "" {
		p := strings.TrimSpace(s.Pattern)
		if strings.HasPrefix(p, "TZ=") || strings.HasPrefix(p, "CRON_TZ=") {
			return nil, invalid("Pattern", "%q names a time zone; set TZ instead", s.Pattern)
		}
		if strings.HasPrefix(p, "@every") {
			return nil, invalid("Pattern", "%q: use Every for fixed intervals", s.Pattern)
		}
		sched, err := cronParser.Parse(p)
		if err != nil {
			return nil, invalid("Pattern", "%q: %v", s.Pattern, err)
		}
		cs, ok := sched.(*cron.SpecSchedule)
		if !ok {
			return nil, invalid("Pattern", "%q is not a cron pattern", s.Pattern)
		}
		cs.Location = t.loc
		t.cron = cs
		fields := strings.Fields(p)
		switch {
		case len(fields) == 5:
			t.fixedHour = fields[1] != "*"
		case len(fields) == 6:
			t.fixedHour = fields[2] != "*"
		default: // descriptors: @hourly runs every hour, the rest at fixed hours
			t.fixedHour = p != "@hourly"
		}
	}
	return t, nil
}

// next returns the first tick after `after`, or zero when there is none
// before End. Ticks are whole milliseconds.
func (t *ticker) next(after time.Time) time.Time {
	var n time.Time
	if t.cron == nil {
		every := t.s.Every.Milliseconds()
		a := after.UnixMilli()
		if t.s.Start.IsZero() {
			n = time.UnixMilli(a - mod(a, every) + every)
		} else {
			st := t.s.Start.UnixMilli()
			if a < st {
				n = time.UnixMilli(st)
			} else {
				n = time.UnixMilli(a - mod(a-st, every) + every)
			}
		}
	} else {
		from := after
		if !t.s.Start.IsZero() && from.Before(t.s.Start) {
			from = t.s.Start.Add(-time.Nanosecond)
		}
		n = t.cron.Next(from.In(t.loc))
		if t.fixedHour && !n.IsZero() {
			if g := gapTick(t.cron, t.loc, from, n); !g.IsZero() {
				n = g
			}
		}
		// A wall-clock time the fall-back hour repeats runs once, as in
		// cron: a pattern at fixed hours skips the second occurrence.
		if t.fixedHour && !n.IsZero() && sameWallClock(n, from.In(t.loc)) {
			n = t.cron.Next(n)
		}
	}
	if n.IsZero() || (!t.s.End.IsZero() && n.After(t.s.End)) {
		return time.Time{}
	}
	return time.UnixMilli(n.UnixMilli())
}

func sameWallClock(a, b time.Time) bool {
	y1, m1, d1 := a.Date()
	y2, m2, d2 := b.Date()
	return y1 == y2 && m1 == m2 && d1 == d2 && a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// first returns the first tick of a scheduler upserted at now (backend
// clock), or zero when no tick is left before End.
func (t *ticker) first(now time.Time) time.Time {
	if t.s.Immediately {
		if !t.s.End.IsZero() && now.After(t.s.End) {
			return time.Time{}
		}
		return time.UnixMilli(now.UnixMilli())
	}
	return t.next(now)
}

// after returns the tick to move to from tick `from` whose job was claimed
// at now (backend clock): the next tick, unless it is older than CatchUp
// (downtime): then the claimed job stood for every missed tick, and the
// next is the first after now, so a restart runs one catch-up job, not a
// burst.
func (t *ticker) after(from, now time.Time) time.Time {
	n := t.next(from)
	window := t.s.CatchUp
	if window == 0 {
		window = DefaultCatchUp
	}
	if n.IsZero() || now.Sub(n) <= window {
		return n
	}
	return t.next(now)
}
