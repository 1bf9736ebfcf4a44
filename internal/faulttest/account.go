package faulttest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
)

// Progress returns how many handler successes the records show so far.
func (e *Env) Progress() int {
	n := 0
	for _, p := range e.Procs() {
		n += countPrefix(p.Records, "E ")
	}
	return n
}

func countPrefix(path, prefix string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

// Records is what one process recorded.
type Records struct {
	Proc        *Proc
	Starts      map[string]int          // S: handler starts per job
	Effects     map[string]int          // E: handler successes per job
	EffectTimes map[string][]int64      // E: this process' wall clock (Unix ms) at each success
	ParentReads map[string][]ParentRead // P: what a flow parent's handler read of its children
	Completes   map[string]int          // C: completions the backend accepted
	Fails       map[string][]string     // F: failed attempts the backend accepted, with reasons
	Interrupts  map[string][]string     // X: handlers ended by their context, with the cause
	ClockArgs   []string                // T: arguments that looked like the wall clock
	Checked     int64                   // N: commands the clock check looked at
	FirstStarts []string                // job IDs in the order of their first start here
	StartTimes  map[string][]int64      // S: this process' wall clock (Unix ms) at each start
	StartMade   map[string][]int        // S: AttemptsMade seen at each start
	ReadyAt     int64                   // READY: the process' wall clock (Unix ms) when it started
}

// ParentRead is one P record: a flow parent's handler read its children.
type ParentRead struct {
	Pending, Values, Failed int
	At                      int64 // the process' wall clock, Unix ms
}

// ReadRecords parses a process' records file.
func ReadRecords(p *Proc) *Records {
	r := &Records{Proc: p, Starts: map[string]int{}, Effects: map[string]int{}, Completes: map[string]int{},
		Fails: map[string][]string{}, Interrupts: map[string][]string{}, Checked: -1,
		StartTimes: map[string][]int64{}, StartMade: map[string][]int{}, EffectTimes: map[string][]int64{}, ParentReads: map[string][]ParentRead{}}
	f, err := os.Open(p.Records)
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		id, more, _ := strings.Cut(rest, " ")
		switch kind {
		case "S":
			if r.Starts[id] == 0 {
				r.FirstStarts = append(r.FirstStarts, id)
			}
			r.Starts[id]++
			if f := strings.Fields(more); len(f) == 3 {
				made, _ := strconv.Atoi(f[0])
				at, _ := strconv.ParseInt(f[2], 10, 64)
				r.StartMade[id] = append(r.StartMade[id], made)
				r.StartTimes[id] = append(r.StartTimes[id], at)
			}
		case "E":
			r.Effects[id]++
			if at, err := strconv.ParseInt(more, 10, 64); err == nil {
				r.EffectTimes[id] = append(r.EffectTimes[id], at)
			}
		case "P":
			if f := strings.Fields(more); len(f) == 4 {
				var n [4]int64
				for i := range f {
					n[i], _ = strconv.ParseInt(f[i], 10, 64)
				}
				r.ParentReads[id] = append(r.ParentReads[id], ParentRead{Pending: int(n[0]), Values: int(n[1]), Failed: int(n[2]), At: n[3]})
			}
		case "C":
			r.Completes[id]++
		case "F":
			r.Fails[id] = append(r.Fails[id], more)
		case "X":
			r.Interrupts[id] = append(r.Interrupts[id], more)
		case "T":
			r.ClockArgs = append(r.ClockArgs, rest)
		case "READY":
			r.ReadyAt, _ = strconv.ParseInt(more, 10, 64)
		case "N":
			r.Checked, _ = strconv.ParseInt(id, 10, 64)
		}
	}
	return r
}

// AllRecords reads the records of every process of the env.
func (e *Env) AllRecords() []*Records {
	var out []*Records
	for _, p := range e.Procs() {
		out = append(out, ReadRecords(p))
	}
	return out
}

// Tally is the accounting of one scenario run.
type Tally struct {
	Scenario   string
	Added      int // jobs added
	Completed  int // jobs in completed
	Failed     int // jobs in failed
	Runs       int // handler starts, all processes
	Duplicates int // jobs whose handler succeeded more than once
	Lost       int // added jobs neither completed nor failed (must be 0)
	Stuck      int // jobs left in active, waiting or delayed
	Faults     string
	Duration   time.Duration
}

// Account checks that every job of ids is completed, or failed when
// wantFailed says so; that none is missing or stuck; and that a job's
// handler succeeded more than once only when a process that ran it to the
// end was interrupted (SIGKILL or SIGSTOP) before its completion was
// recorded, at most once per such interruption. It fails the test on any
// violation and returns the tally.
func (e *Env) Account(scenario, faults string, ids []string, wantFailed func(id string) bool, took time.Duration) Tally {
	e.T.Helper()
	ctx := context.Background()
	c := e.Counts()
	completed := e.listIDs(ctx, fila.StateCompleted)
	failed := e.listIDs(ctx, fila.StateFailed)
	recs := e.AllRecords()
	tl := Tally{Scenario: scenario, Added: len(ids), Completed: int(c.Completed), Failed: int(c.Failed), Faults: faults, Duration: took}
	tl.Stuck = int(c.Active + c.Waiting + c.Delayed + c.Prioritized + c.Paused)
	var problems []string
	for _, id := range ids {
		want := "completed"
		if wantFailed != nil && wantFailed(id) {
			want = "failed"
		}
		_, isC := completed[id]
		_, isF := failed[id]
		switch {
		case !isC && !isF:
			tl.Lost++
			problems = append(problems, fmt.Sprintf("job %s is neither completed nor failed", id))
		case want == "completed" && !isC:
			problems = append(problems, fmt.Sprintf("job %s failed, want completed", id))
		case want == "failed" && !isF:
			problems = append(problems, fmt.Sprintf("job %s completed, want failed", id))
		}
		effects, allowed, accepted := 0, 0, 0
		for _, r := range recs {
			n := r.Effects[id]
			effects += n
			accepted += r.Completes[id]
			if n > r.Completes[id] && r.Proc.Interrupted() {
				allowed += n - r.Completes[id]
			}
		}
		if effects > 1 {
			tl.Duplicates++
			if effects-1 > allowed {
				problems = append(problems, fmt.Sprintf("job %s succeeded %d times; only %d runs were on interrupted workers", id, effects, allowed))
			}
		}
		if accepted > 1 {
			problems = append(problems, fmt.Sprintf("job %s was completed %d times by the backend", id, accepted))
		}
	}
	for _, r := range recs {
		for id := range r.Starts {
			tl.Runs += r.Starts[id]
		}
	}
	if tl.Stuck != 0 {
		problems = append(problems, fmt.Sprintf("%d jobs stuck: %+v", tl.Stuck, *c))
	}
	if want := len(ids); tl.Completed+tl.Failed != want {
		problems = append(problems, fmt.Sprintf("completed %d + failed %d != added %d", tl.Completed, tl.Failed, want))
	}
	e.T.Logf("%s", tl.Row())
	WriteResult(e.T, tl)
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		e.T.Fatalf("faulttest: %s: accounting failed:\n%s", scenario, strings.Join(problems, "\n"))
	}
	return tl
}

// listIDs returns the IDs of the jobs in state st in the queue and the
// Others.
func (e *Env) listIDs(ctx context.Context, st fila.State) map[string]struct{} {
	e.T.Helper()
	out := map[string]struct{}{}
	for _, q := range append([]*fila.Queue{e.Queue}, e.Others...) {
		for off := 0; ; off += 1000 {
			jobs, err := q.Jobs(ctx, st, off, 1000)
			if err != nil {
				e.T.Fatalf("faulttest: list %s of %s: %v", st, q.Name(), err)
			}
			for _, j := range jobs {
				out[j.ID] = struct{}{}
			}
			if len(jobs) < 1000 {
				break
			}
		}
	}
	return out
}

// Row renders the tally as a Markdown table row.
func (tl Tally) Row() string {
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %.1fs |", tl.Scenario, tl.Faults, tl.Added, tl.Completed,
		tl.Failed, tl.Runs, tl.Duplicates, tl.Lost, tl.Stuck, tl.Duration.Seconds())
}

// TableHeader is the header of the Markdown table Row belongs to.
const TableHeader = "| scenario | faults | added | completed | failed | handler runs | duplicates | lost | stuck | took |\n|---|---|---|---|---|---|---|---|---|---|"

var resultsMu sync.Mutex

// WriteResult appends the tally's row to the file named by
// FILA_FAULT_RESULTS, when set (the soak script collects the tables so).
func WriteResult(t testing.TB, tl Tally) { appendResult(t, tl.Row()) }

// WriteNote appends a free-form line to the FILA_FAULT_RESULTS file.
func WriteNote(t testing.TB, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	appendResult(t, line)
}

// appendResult appends line to the FILA_FAULT_RESULTS file, when set.
func appendResult(t testing.TB, line string) {
	path := os.Getenv("FILA_FAULT_RESULTS")
	if path == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("faulttest: results file: %v", err)
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, line)
}

var usedMemoryRe = regexp.MustCompile(`used_memory:(\d+)`)

// UsedMemory reads INFO memory's used_memory of a server.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	m := usedMemoryRe.FindStringSubmatch(info)
	if m == nil {
		return 0, fmt.Errorf("no used_memory in INFO")
	}
	return strconv.ParseInt(m[1], 10, 64)
}
