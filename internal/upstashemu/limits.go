package upstashemu

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Limits are usage limits of an Upstash plan for the emulator to enforce,
// with the error texts Upstash documents (upstash/docs
// redis/troubleshooting), so tests can see what a client does when the
// service refuses it. Zero means no limit. Commands are counted as Upstash
// bills them: a pipeline of n commands is n.
type Limits struct {
	// MonthlyCommands: past it every request is refused with 400 "ERR max
	// requests limit exceeded. Limit: N, Usage: N" (the free plan's 500K).
	MonthlyCommands int64
	// DailyCommands: the same per UTC day of the emulator's clock, with
	// "ERR max daily request limit exceeded. Limit: N, Usage: N".
	DailyCommands int64
	// CommandsPerSecond: past it, within one second of the clock, a request
	// is refused with 429 and "ERR max requests per second limit exceeded";
	// the text is the emulator's own, Upstash documents none.
	CommandsPerSecond int64
	// MaxRecordBytes: a command on a key already larger than this (by
	// MEMORY USAGE; for EVAL and EVALSHA any key in KEYS) is refused with
	// "ERR max single record size exceeded". Upstash refuses the write that
	// would pass the limit; the emulator, which cannot know a script's
	// writes in advance, refuses the next command on the key instead.
	MaxRecordBytes int64
}

// limiter counts usage against Limits. Guarded by Server.mu.
type limiter struct {
	l                Limits
	now              func() time.Time
	monthly          int64
	day, second      int64 // the current day and second of the clock
	daily, perSecond int64
}

// SetLimits makes the emulator enforce l from now on, with usage counted
// from zero.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim = limiter{l: l, now: s.lim.now}
}

// SetClock replaces the clock the daily and per-second limits read.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim.now = now
}

// admit charges n commands against the limits, or returns the status and
// error text refusing the whole request (which is then not charged).
func (s *Server) admit(n int64) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lim := &s.lim
	now := time.Now()
	if lim.now != nil {
		now = lim.now()
	}
	if d := now.Unix() / 86400; d != lim.day {
		lim.day, lim.daily = d, 0
	}
	if sec := now.Unix(); sec != lim.second {
		lim.second, lim.perSecond = sec, 0
	}
	switch {
	case lim.l.MonthlyCommands > 0 && lim.monthly+n > lim.l.MonthlyCommands:
		return http.StatusBadRequest, fmt.Sprintf("ERR max requests limit exceeded. Limit: %d, Usage: %d", lim.l.MonthlyCommands, lim.monthly)
	case lim.l.DailyCommands > 0 && lim.daily+n > lim.l.DailyCommands:
		return http.StatusBadRequest, fmt.Sprintf("ERR max daily request limit exceeded. Limit: %d, Usage: %d", lim.l.DailyCommands, lim.daily)
	case lim.l.CommandsPerSecond > 0 && lim.perSecond+n > lim.l.CommandsPerSecond:
		return http.StatusTooManyRequests, fmt.Sprintf("ERR max requests per second limit exceeded. Limit: %d", lim.l.CommandsPerSecond)
	}
	lim.monthly += n
	lim.daily += n
	lim.perSecond += n
	return 0, ""
}

// recordTooLarge returns the record size error when a key args names is
// over MaxRecordBytes.
func (s *Server) recordTooLarge(ctx context.Context, args []any) error {
	s.mu.Lock()
	maxBytes := s.lim.l.MaxRecordBytes
	s.mu.Unlock()
	if maxBytes <= 0 {
		return nil
	}
	for _, k := range keysOf(args) {
		n, err := s.rdb.MemoryUsage(ctx, k).Result()
		if err == nil && n > maxBytes {
			return fmt.Errorf("ERR max single record size exceeded")
		}
	}
	return nil
}

// keysOf is the keys a command names, approximately: EVAL's KEYS, else its
// first argument.
func keysOf(args []any) []string {
	name := strings.ToUpper(fmt.Sprint(args[0]))
	switch name {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		if len(args) < 3 {
			return nil
		}
		var n int
		if _, err := fmt.Sscan(fmt.Sprint(args[2]), &n); err != nil {
			return nil
		}
		var keys []string
		for i := 3; i < 3+n && i < len(args); i++ {
			keys = append(keys, fmt.Sprint(args[i]))
		}
		return keys
	case "PING", "ECHO", "TIME", "SCRIPT", "FUNCTION", "INFO", "DBSIZE", "FLUSHALL", "FLUSHDB", "COMMAND":
		return nil
	}
	if len(args) > 1 {
		return []string{fmt.Sprint(args[1])}
	}
	return nil
}
