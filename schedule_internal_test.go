package fila

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustTicker(t *testing.T, s Schedule) *ticker {
	t.Helper()
	tk, err := newTicker(s)
	require.NoError(t, err)
	return tk
}

// ticks returns the ticks after from, up to n of them within span.
func ticks(tk *ticker, from time.Time, n int, loc *time.Location) []string {
	var out []string
	for t := from; len(out) < n; {
		t = tk.next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t.In(loc).Format("01-02 15:04 MST"))
	}
	return out
}

func TestTickerEvery(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 1, 0, 0, 30, 500e6, time.UTC)

	t.Run("aligned to multiples of Every since the epoch", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Every: time.Minute})
		require.Equal(t, time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC), tk.next(at).UTC())
		require.Equal(t, time.Date(2030, 1, 1, 0, 2, 0, 0, time.UTC), tk.next(tk.next(at)).UTC())
	})
	t.Run("anchored at Start", func(t *testing.T) {
		start := time.Date(2030, 1, 1, 0, 0, 10, 0, time.UTC)
		tk := mustTicker(t, Schedule{Every: time.Minute, Start: start})
		require.Equal(t, start.Add(time.Minute), tk.next(at).UTC())
		require.Equal(t, start, tk.next(start.Add(-time.Hour)).UTC(), "before Start, the first tick is Start")
	})
	t.Run("no tick after End", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Every: time.Minute, End: at.Add(time.Minute)})
		require.False(t, tk.next(at).IsZero())
		require.True(t, tk.next(at.Add(time.Minute)).IsZero())
	})
	t.Run("Immediately makes the first tick now", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Every: time.Minute, Immediately: true})
		require.Equal(t, at.Truncate(time.Millisecond), tk.first(at).UTC())
	})
}

func TestTickerCatchUp(t *testing.T) {
	t.Parallel()
	tk := mustTicker(t, Schedule{Every: time.Minute})
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	require.Equal(t, t0.Add(time.Minute), tk.after(t0, t0.Add(time.Second)).UTC(), "on time: the next tick")
	require.Equal(t, t0.Add(time.Minute), tk.after(t0, t0.Add(90*time.Second)).UTC(),
		"claimed late: the next tick is due now and is not skipped")
	require.Equal(t, t0.Add(time.Minute), tk.after(t0, t0.Add(DefaultCatchUp+time.Minute)).UTC(),
		"a tick missed by up to CatchUp still runs (a crashed worker's job came back late)")
	require.Equal(t, time.Date(2030, 1, 1, 3, 1, 0, 0, time.UTC), tk.after(t0, t0.Add(3*time.Hour+5*time.Second)).UTC(),
		"after downtime the stale job stands for the missed ticks: the next is the first after now")

	short := mustTicker(t, Schedule{Every: time.Second, CatchUp: 5 * time.Second})
	require.Equal(t, t0.Add(time.Second), short.after(t0, t0.Add(6*time.Second)).UTC())
	require.Equal(t, t0.Add(8*time.Second), short.after(t0, t0.Add(7*time.Second)).UTC())
}

func TestTickerPatternTZ(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	tk := mustTicker(t, Schedule{Pattern: "0 9 * * *", TZ: "Europe/Paris"})
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	require.Equal(t, time.Date(2030, 1, 2, 9, 0, 0, 0, paris), tk.next(at).In(paris))

	sec := mustTicker(t, Schedule{Pattern: "*/15 * * * * *"})
	require.Equal(t, at.Add(15*time.Second), sec.next(at).UTC(), "six fields: seconds first")
	utc := mustTicker(t, Schedule{Pattern: "@daily"})
	require.Equal(t, time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), utc.next(at).UTC(), "no TZ: UTC")
}

func TestTickerDST(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	springEve := time.Date(2026, 3, 7, 12, 0, 0, 0, ny) // clocks jump 02:00 -> 03:00 on 03-08
	fallEve := time.Date(2026, 10, 31, 12, 0, 0, 0, ny) // clocks go 02:00 -> 01:00 on 11-01

	t.Run("a time in the spring gap runs once, at the end of the gap", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Pattern: "30 2 * * *", TZ: "America/New_York"})
		require.Equal(t, []string{"03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"}, ticks(tk, springEve, 3, ny))
	})
	t.Run("a time in the repeated autumn hour runs once", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Pattern: "30 1 * * *", TZ: "America/New_York"})
		require.Equal(t, []string{"11-01 01:30 EDT", "11-02 01:30 EST"}, ticks(tk, fallEve, 2, ny))
		sec := mustTicker(t, Schedule{Pattern: "0 30 1 * * *", TZ: "America/New_York"})
		require.Equal(t, []string{"11-01 01:30 EDT", "11-02 01:30 EST"}, ticks(sec, fallEve, 2, ny))
	})
	t.Run("an hourly pattern follows the clock through both changes", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Pattern: "0 * * * *", TZ: "America/New_York"})
		got := ticks(tk, time.Date(2026, 3, 8, 0, 30, 0, 0, ny), 3, ny)
		require.Equal(t, []string{"03-08 01:00 EST", "03-08 03:00 EDT", "03-08 04:00 EDT"}, got)
		got = ticks(tk, time.Date(2026, 11, 1, 0, 30, 0, 0, ny), 3, ny)
		require.Equal(t, []string{"11-01 01:00 EDT", "11-01 01:00 EST", "11-01 02:00 EST"}, got)
	})
	t.Run("ticks are one real day apart except across a change", func(t *testing.T) {
		tk := mustTicker(t, Schedule{Pattern: "0 12 * * *", TZ: "America/New_York"})
		a := tk.next(springEve.Add(-time.Hour)) // 03-07 12:00 EST
		b := tk.next(a)
		require.Equal(t, 23*time.Hour, b.Sub(a))
	})
}
