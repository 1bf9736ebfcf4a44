package main

import (
	"context"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// snapshot is what a scenario measures before and after its timed part.
type snapshot struct {
	at        time.Time
	clientCPU float64 // seconds
	mallocs   uint64
	allocB    uint64
	redisCPU  float64 // seconds
	calls     map[string]int64
}

var (
	cpuRe   = regexp.MustCompile(`used_cpu_(sys|user):([0-9.]+)`)
	statsRe = regexp.MustCompile(`cmdstat_([a-z_|]+):calls=(\d+)`)
	memRe   = regexp.MustCompile(`used_memory:(\d+)`)
)

func take(ctx context.Context, admin *redis.Client) snapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := snapshot{at: time.Now(), clientCPU: selfCPU(), mallocs: ms.Mallocs, allocB: ms.TotalAlloc}
	if admin != nil {
		for _, m := range cpuRe.FindAllStringSubmatch(admin.Info(ctx, "cpu").Val(), -1) {
			f, _ := strconv.ParseFloat(m[2], 64)
			s.redisCPU += f
		}
		s.calls = map[string]int64{}
		for _, m := range statsRe.FindAllStringSubmatch(admin.Info(ctx, "commandstats").Val(), -1) {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			s.calls[m[1]] = n
		}
	}
	return s
}

// clientCommands are the commands fila sends itself; everything else in
// INFO commandstats ran inside its scripts.
var clientCommands = map[string]bool{
	"evalsha": true, "eval": true, "fcall": true, "blmove": true, "xread": true, "ping": true,
	"client|id": true, "client|unblock": true, "client|setinfo": true, "hello": true, "function|load": true,
}

// delta fills the resource columns of r from two snapshots.
func (r *result) delta(a, b snapshot) {
	jobs := float64(max(r.Jobs, 1))
	r.Seconds = b.at.Sub(a.at).Seconds()
	r.ClientCPU = b.clientCPU - a.clientCPU
	r.AllocsPerJob = float64(b.mallocs-a.mallocs) / jobs
	r.AllocBytesPerJob = float64(b.allocB-a.allocB) / jobs
	r.PeakRSSMB = peakRSSMB()
	if a.calls == nil {
		return
	}
	r.RedisCPU = b.redisCPU - a.redisCPU
	var all, trips, scripts int64
	for cmd, n := range b.calls {
		d := n - a.calls[cmd]
		if cmd == "info" {
			continue // the bench's own snapshots
		}
		all += d
		if clientCommands[cmd] {
			trips += d
		}
		if cmd == "evalsha" || cmd == "eval" || cmd == "fcall" {
			scripts += d
		}
	}
	r.RedisCmdsPerJob = float64(all) / jobs
	r.RoundTripsPerJob = float64(trips) / jobs
	r.ScriptCallsPerJob = float64(scripts) / jobs
}

func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// resetPeakRSS restarts the kernel's peak-RSS mark (Linux), so each scenario
// reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func usedMemory(ctx context.Context, admin *redis.Client) int64 {
	m := memRe.FindStringSubmatch(admin.Info(ctx, "memory").Val())
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// percentiles returns p50, p95, p99 and max of ds in milliseconds.
func percentiles(ds []time.Duration) (p50, p95, p99, mx float64) {
	if len(ds) == 0 {
		return
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) float64 {
		i := min(int(p*float64(len(s))), len(s)-1)
		return float64(s[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.95), at(0.99), float64(s[len(s)-1]) / float64(time.Millisecond)
}
